/** What every long-running Flux-Gate process shares: its region argument, shutdown, start-up retries. */
import { parseArgs } from "node:util";
import { regionById, type Config, type Instance, type Region } from "./config.ts";
import type { Logger } from "./log.ts";

/** `--region <id>` (or FLUX_GATE_REGION), checked against the configuration. */
const PROCESS_OPTIONS = { region: { type: "string" }, instance: { type: "string" } } as const;

export function regionFromArgs(config: Config, argv = Bun.argv.slice(2)): Region {
  const { values } = parseArgs({ args: argv, options: PROCESS_OPTIONS });
  const id = values.region ?? process.env.FLUX_GATE_REGION;
  if (!id) throw new Error("--region is required");
  return regionById(config, id);
}

/** Which of a region's cores or workers this process is: `--instance N` (from 1; 1 if not given). */
export function instanceFromArgs(instances: Instance[], argv = Bun.argv.slice(2)): Instance & { number: number } {
  const { values } = parseArgs({ args: argv, options: PROCESS_OPTIONS });
  const number = Number(values.instance ?? 1);
  const instance = instances[number - 1];
  if (!Number.isInteger(number) || !instance)
    throw new Error(`--instance must be 1 to ${instances.length}, not "${values.instance}"`);
  return { ...instance, number };
}

/** Runs `shutdown` once on SIGTERM or SIGINT, then exits. */
export function onShutdown(shutdown: () => Promise<void>): void {
  let stopping = false;
  const handler = async () => {
    if (stopping) return;
    stopping = true;
    await shutdown();
    process.exit(0);
  };
  process.on("SIGTERM", handler);
  process.on("SIGINT", handler);
}

/**
 * Runs `attempt` until it succeeds, backing off up to 5 s: for connecting at start-up to a
 * service that may be down (a worker started during a Kafka outage waits for it).
 */
export async function untilConnected<T>(what: string, attempt: () => Promise<T>, log: Logger): Promise<T> {
  for (let tries = 1; ; tries++) {
    try {
      return await attempt();
    } catch (error) {
      log.warn(`${what} failed, retrying`, { tries, error: String(error) });
      await Bun.sleep(Math.min(200 * 2 ** tries, 5_000));
    }
  }
}
