/**
 * Lua script flags that Upstash's servers accept and Redis does not. `@upstash/ratelimit`
 * marks every script `#!lua flags=allow-key-locking`, which Redis 7.0 refuses ("ERR Unexpected
 * flag in script shebang"). The Redis REST adapter and the edge's RESP client run such scripts without
 * the flag (Redis runs every script atomically anyway) and keep answering to the hash the client
 * computed.
 */
import { createHash } from "node:crypto";

/** A Redis command as a list: its name, then its arguments. */
type Command = (string | number)[];

const UPSTASH_ONLY_FLAGS = new Set(["allow-key-locking"]);

export const sha1 = (text: string) => createHash("sha1").update(text).digest("hex");

/** The script with Upstash-only flags taken out of its shebang; unchanged if it has none. */
export function portableScript(source: string): string {
  const lineEnd = source.indexOf("\n");
  const shebang = lineEnd < 0 ? source : source.slice(0, lineEnd);
  const match = /^#!(\S+)(.*)$/.exec(shebang);
  if (!match) return source;
  const rest = match[2]!.replace(/\s*flags=(\S*)/, (_, flags: string) => {
    const kept = flags.split(",").filter((f) => f && !UPSTASH_ONLY_FLAGS.has(f));
    return kept.length > 0 ? ` flags=${kept.join(",")}` : "";
  });
  return `#!${match[1]}${rest}${lineEnd < 0 ? "" : source.slice(lineEnd)}`;
}

/** Rewrites script commands for Redis and remembers which hash stands for which. */
export class ScriptHashes {
  /** The client's hash (of the script it sent) → the hash Redis knows. */
  private readonly served = new Map<string, string>();

  /** The command to send to Redis in place of `command`. */
  rewrite(command: Command): Command {
    const name = String(command[0]).toUpperCase();
    if ((name === "EVAL" || name === "EVAL_RO") && typeof command[1] === "string") {
      return [command[0]!, this.learn(command[1]), ...command.slice(2)];
    }
    if ((name === "EVALSHA" || name === "EVALSHA_RO") && typeof command[1] === "string") {
      return [command[0]!, this.served.get(command[1]) ?? command[1], ...command.slice(2)];
    }
    if (name === "SCRIPT" && String(command[1]).toUpperCase() === "LOAD" && typeof command[2] === "string") {
      return [command[0]!, command[1]!, this.learn(command[2])];
    }
    return command;
  }

  /** SCRIPT LOAD answers with the hash of the script the client sent, not of the one Redis got. */
  answer(command: Command, reply: unknown): unknown {
    const loaded = String(command[0]).toUpperCase() === "SCRIPT" && String(command[1]).toUpperCase() === "LOAD";
    return loaded && typeof command[2] === "string" ? sha1(command[2]) : reply;
  }

  private learn(source: string): string {
    const portable = portableScript(source);
    if (portable !== source) this.served.set(sha1(source), sha1(portable));
    return portable;
  }
}
