/**
 * Expires holds past their hold time, for every product of the region. Each expiry runs inside
 * one Lua script with its own check, so any number of sweepers may run side by side.
 *
 * A product is looked at again only when its next hold may fall due (the earliest hold left,
 * or one taken now, whichever is first), and at least every `RECHECK_MS` in case its rules
 * changed: a region with 1,000 products on sale costs a few scripts a tick, not 1,000.
 */
import type { RegionStore } from "../reservation/store.ts";

export interface Sweeper {
  /** One pass over the products that may have holds due; returns the holds it expired. */
  sweep(): Promise<number>;
  stop(): Promise<void>;
}

const PER_SCRIPT = 200;
const RECHECK_MS = 5_000;

export function startSweeper(
  store: RegionStore,
  intervalMs: number,
  onError: (error: unknown) => void = () => {},
  onExpired: (count: number) => void = () => {},
): Sweeper {
  /** Product → when to look at it next (ms). */
  const nextCheck = new Map<string, number>();

  async function sweep(): Promise<number> {
    let total = 0;
    const now = Date.now();
    const products = new Set(await store.buckets());
    for (const product of products) {
      if ((nextCheck.get(product) ?? 0) > now) continue;
      let round: Awaited<ReturnType<RegionStore["expireDue"]>>;
      do {
        round = await store.expireDue(product, PER_SCRIPT);
        total += round.expired;
      } while (round.expired === PER_SCRIPT);
      nextCheck.set(product, Math.min(round.nextDueAt ?? Number.POSITIVE_INFINITY, Date.now() + RECHECK_MS));
    }
    for (const product of nextCheck.keys()) if (!products.has(product)) nextCheck.delete(product);
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
