/**
 * Expires holds past their hold time, for every product of the region. Each expiry runs inside
 * one Lua script with its own check, so any number of sweepers may run side by side.
 */
import type { RegionStore } from "../reservation/store.ts";

export interface Sweeper {
  /** One pass over every product; returns the holds it expired. */
  sweep(): Promise<number>;
  stop(): Promise<void>;
}

const PER_SCRIPT = 200;

export function startSweeper(
  store: RegionStore,
  intervalMs: number,
  onError: (error: unknown) => void = () => {},
  onExpired: (count: number) => void = () => {},
): Sweeper {
  async function sweep(): Promise<number> {
    let total = 0;
    for (const product of await store.products()) {
      for (let expired = PER_SCRIPT; expired === PER_SCRIPT; ) {
        expired = await store.expireDue(product, PER_SCRIPT);
        total += expired;
      }
    }
    return total;
  }

  let pass: Promise<unknown> | undefined;
  const timer = setInterval(() => {
    pass ??= sweep()
      .then(onExpired, onError)
      .finally(() => (pass = undefined));
  }, intervalMs);

  return {
    sweep,
    async stop() {
      clearInterval(timer);
      await pass;
    },
  };
}
