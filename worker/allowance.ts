/**
 * Gives buyers their allowance back when an order ends unsold: an expired or cancelled order
 * stops counting against the buyer's per-user limit. Removing the order's entry by id makes a
 * replayed event change nothing, and never gives back more than was taken. (A cancel through
 * the edge gives it back at once; this is the path for expiries.)
 *
 * Two halves. Each region's worker feeds, from the batches it reads anyway, the expiry and
 * cancel events of each home's buyers to that home's allowance topic (`allowanceTopicFor`),
 * before it persists the batch and commits its offsets (so a crash feeds them again; a
 * duplicate removes nothing). Each home's allowance consumer reads its own topic only: what
 * concerns its buyers, a few events per order at most, instead of every event of every
 * region's topic (N regions made that N² reads, almost all of them thrown away).
 * The event names its buyer's home (as the buyer's identity named it when ordering): the user
 * id alone cannot say it. An event without it (an order reserved before orders carried it)
 * falls back to the rendezvous hash: the home the edge gives a buyer whose identity names none.
 * A home this deployment does not have gets nothing: no consumer would give it back.
 */
import { rendezvousHome } from "../shared/home-region.ts";
import {
  allowanceTopicFor,
  type IdempotentProducer,
  type IncomingMessage,
  type OutgoingMessage,
} from "../shared/kafka.ts";
import { buyerKeys } from "../shared/keys.ts";
import type { RedisConnection } from "../shared/redis.ts";
import type { OrderEvent } from "../shared/events.ts";
import { decode, type Decoded } from "./plan.ts";

export interface Release {
  key: string;
  orderId: string;
}

const endsUnsold = (e: OrderEvent) => e.type === "expired" || e.type === "cancelled";
const homeOf = (e: OrderEvent, regionIds: readonly string[]) => e.homeRegion ?? rendezvousHome(e.userId, regionIds);

/** A batch's feed: per home's allowance topic, the messages of its buyers' orders that ended unsold. Pure. */
export function planFeed(decoded: Decoded, regionIds: readonly string[]): Map<string, OutgoingMessage[]> {
  const feed = new Map<string, OutgoingMessage[]>();
  for (const { event, message } of decoded.events) {
    if (!endsUnsold(event)) continue;
    const home = homeOf(event, regionIds);
    if (!regionIds.includes(home)) continue;
    const topic = allowanceTopicFor(home);
    const messages = feed.get(topic) ?? [];
    messages.push({ key: message.key ?? event.orderId, value: message.value ?? "" });
    feed.set(topic, messages);
  }
  return feed;
}

/** Writes a batch's feed (acks = all); throws if Kafka did not take all of it, so it is fed again. */
export async function feedAllowances(
  producer: IdempotentProducer,
  decoded: Decoded,
  regionIds: readonly string[],
): Promise<number> {
  const feed = planFeed(decoded, regionIds);
  await Promise.all([...feed].map(([topic, messages]) => producer.send(topic, messages)));
  let fed = 0;
  for (const messages of feed.values()) fed += messages.length;
  return fed;
}

/** The allowance entries a batch of order events gives back in `region`. Pure. */
export function planReleases(messages: IncomingMessage[], region: string, regionIds: readonly string[]): Release[] {
  return decode(messages)
    .events.map(({ event }) => event)
    .filter((e) => endsUnsold(e) && homeOf(e, regionIds) === region)
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
