/**
 * Expires holds past their hold time, for every product of the region. Each expiry runs inside
 * one Lua script with its own check, so any number of sweepers may run side by side.
 *
 * A product is looked at again only when its next hold may fall due (the earliest hold left,
 * or one taken now, whichever is first), and at least every `RECHECK_MS` in case its rules
 * changed: a region with 1,000 products on sale costs a few scripts a tick, not 1,000. The
 * products are listed again at most every `RELIST_MS` (a product activated since is first looked
 * at within that), so a tick with nothing due asks Redis nothing: idle, a sweeper costs a list
 * a second and a script per product every `RECHECK_MS`.
 */
import type { RegionStore } from "../reservation/store.ts";

export interface Sweeper {
  /** One pass over the products that may have holds due; returns the holds it expired. */
  sweep(): Promise<number>;
  stop(): Promise<void>;
}

const PER_SCRIPT = 200;
const RECHECK_MS = 5_000;
const RELIST_MS = 1_000;

export function startSweeper(
  store: RegionStore,
  intervalMs: number,
  onError: (error: unknown) => void = () => {},
  onExpired: (count: number) => void = () => {},
): Sweeper {
  /** Product → when to look at it next (ms). */
  const nextCheck = new Map<string, number>();
  let products = new Set<string>();
  let listedAt = Number.NEGATIVE_INFINITY;

  /** One pass; `relist` false skips the listing unless `RELIST_MS` passed (the timer's passes). */
  async function pass(relist: boolean): Promise<number> {
    let total = 0;
    const now = Date.now();
    if (relist || now - listedAt >= RELIST_MS) {
      products = new Set(await store.buckets());
      listedAt = now;
    }
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

  let running: Promise<unknown> | undefined;
  const timer = setInterval(() => {
    running ??= pass(false)
      .then(onExpired, onError)
      .finally(() => (running = undefined));
  }, intervalMs);

  return {
    sweep: () => pass(true),
    async stop() {
      clearInterval(timer);
      await running;
    },
  };
}
