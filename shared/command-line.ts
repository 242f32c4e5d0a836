/**
 * The command line of a Flux-Gate script (demo, bench): a mistake prints one line, the usage,
 * and exits 2, as `flux-gate` answers one; never a stack trace.
 */
import { parseArgs, type ParseArgsConfig } from "node:util";

/** A mistake on the command line: the caller prints it with the usage and exits 2. */
export class UsageError extends Error {}

/** `parseArgs` over the script's arguments; `--help` prints the usage and exits 0. */
export function commandLine<O extends NonNullable<ParseArgsConfig["options"]>>(
  program: string,
  usage: string,
  options: O,
) {
  const fail = (message: string): never => {
    console.error(`${program}: ${message}\n\n${usage}`);
    process.exit(2);
  };
  let values: Record<string, unknown>;
  try {
    values = parseArgs({
      args: Bun.argv.slice(2),
      options: { ...options, help: { type: "boolean", short: "h", default: false } },
    }).values;
  } catch (error) {
    return fail((error as Error).message);
  }
  if (values.help) {
    console.log(usage);
    process.exit(0);
  }
  return {
    values: values as ReturnType<typeof parseArgs<{ options: O }>>["values"],
    /** A flag's value as a positive whole number, or the usage and exit 2. */
    count(name: string, raw: string | undefined): number {
      const n = Number(raw);
      return Number.isInteger(n) && n > 0 ? n : fail(`--${name} takes a positive whole number, not "${raw}"`);
    },
    /** A flag's value if it is one of `choices`, or the usage and exit 2. */
    oneOf<C extends string>(name: string, raw: string, choices: readonly C[]): C {
      return (choices as readonly string[]).includes(raw)
        ? (raw as C)
        : fail(`--${name} takes one of ${choices.join(", ")}, not "${raw}"`);
    },
  };
}
