/**
 * Gives buyers their allowance back when an order ends unsold. One consumer group per home
 * region reads every region's order topic and acts on the buyers homed here: an expired or
 * cancelled order stops counting against the buyer's per-user limit. Removing the order's entry
 * by id makes a replayed event change nothing, and never gives back more than was taken.
 * (A cancel through the edge gives it back at once; this is the path for expiries.)
 * The event names its buyer's home (as the buyer's identity named it when ordering): the user
 * id alone cannot say it. An event without it (an order reserved before orders carried it)
 * falls back to the rendezvous hash: the home the edge gives a buyer whose identity names none.
 */
import { rendezvousHome } from "../shared/home-region.ts";
import type { IncomingMessage } from "../shared/kafka.ts";
import { buyerKeys } from "../shared/keys.ts";
import type { RedisConnection } from "../shared/redis.ts";
import { decode } from "./plan.ts";

export interface Release {
  key: string;
  orderId: string;
}

/** The allowance entries a batch of order events gives back in `region`. Pure. */
export function planReleases(messages: IncomingMessage[], region: string, regionIds: readonly string[]): Release[] {
  return decode(messages)
    .events.map(({ event }) => event)
    .filter(
      (e) =>
        (e.type === "expired" || e.type === "cancelled") &&
        (e.homeRegion ?? rendezvousHome(e.userId, regionIds)) === region,
    )
    .map((e) => ({ key: buyerKeys(e.userId).allowance(e.productId), orderId: e.orderId }));
}

/** Applies a batch; throws if Redis did not take all of it, so the batch comes again. */
export function allowanceHandler({
  redis,
  region,
  regionIds,
}: {
  redis: RedisConnection;
  region: string;
  regionIds: readonly string[];
}) {
  return async (batch: IncomingMessage[]): Promise<number> => {
    const releases = planReleases(batch, region, regionIds);
    if (releases.length === 0) return 0;
    // Each buyer's keys hash to a slot of their own: one command each, all sent at once (a
    // pipeline on a Redis Cluster must keep to one slot). Any failure throws: the batch comes again.
    await Promise.all(releases.map(({ key, orderId }) => redis.hdel(key, orderId)));
    return releases.length;
  };
}
