/**
 * Every Redis key Flux-Gate uses. All keys of one (region, product) carry the hash tag
 * `{region:product}`, so they share one Redis Cluster slot and one Lua script can touch them all;
 * a product split into buckets has such keys per bucket (`product#b`, core/reservation/buckets.ts).
 */

/** Product ids are safe inside a hash tag and a key: no braces, colons, spaces or `#`. */
export const PRODUCT_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** The most inventory buckets a product may have per region (core/reservation/buckets.ts). */
export const MAX_BUCKETS = 16;

/** Bucket `bucket` of a product, addressed as a product of its own: bucket 0 is the product itself. */
export const bucketId = (productId: string, bucket: number) => (bucket === 0 ? productId : `${productId}#${bucket}`);

export interface ProductKeys {
  /** Hash: the sale's rules and its counters (allocated, available, held, sold). */
  product: string;
  /** Hash: user id → units the user holds or bought in this region. */
  users: string;
  /** Sorted set: reserved order id → hold expiry (ms). */
  holds: string;
  /** Stream: order events waiting for the relay to publish them to Kafka. */
  outbox: string;
  /** Prefix of the per-order hashes; the Lua scripts append the order id. */
  orderPrefix: string;
  /** Hash: allocation change id → units it moved (or `refused`), so a retried change applies once. */
  allocationChanges: string;
  /** Sorted set: allocation change id → when it was applied (ms): what the retention sweep walks. */
  allocationChangeTimes: string;
  /** Sorted set: ended order id → when it ended (ms): what the retention sweep walks. */
  ended: string;
  /** Prefix of the tombstone strings of forgotten orders; the Lua scripts append `<generation>:<shard>`. */
  tombstonePrefix: string;
  /** Sorted set: order ids a bucket turned away for want of units → when (reserve.lua). */
  passed: string;
}

export function productKeys(region: string, productId: string): ProductKeys {
  const tag = `{${region}:${productId}}`;
  return {
    product: `fg:${tag}:product`,
    users: `fg:${tag}:users`,
    holds: `fg:${tag}:holds`,
    outbox: `fg:${tag}:outbox`,
    orderPrefix: `fg:${tag}:order:`,
    allocationChanges: `fg:${tag}:allocation-changes`,
    allocationChangeTimes: `fg:${tag}:allocation-change-times`,
    ended: `fg:${tag}:ended`,
    tombstonePrefix: `fg:${tag}:tombstones:`,
    passed: `fg:${tag}:passed`,
  };
}

export function orderKey(region: string, productId: string, orderId: string): string {
  return `${productKeys(region, productId).orderPrefix}${orderId}`;
}

/** Set of the product ids active in a region: what the relay and the sweeper walk. */
export function regionProductsKey(region: string): string {
  return `fg:{${region}}:products`;
}

/**
 * Sorted set (every score 0) of the product ids whose outbox has entries the relay has not seen
 * yet. Added to after a script wrote to an empty outbox (a script may touch one slot only, so
 * not from inside it); the idle relay blocks on it (BZMPOP). Named apart from the plain set it
 * was (`outbox-pending`), which a Redis written by an older core may still hold.
 */
export function outboxPendingKey(region: string): string {
  return `fg:{${region}}:outbox-noted`;
}

/** String: the core whose relay publishes the region's outboxes now (core/relay/lease.lua). */
export function relayLeaseKey(region: string): string {
  return `fg:{${region}}:relay-lease`;
}

/** A part of a key that a client chose, length first: `alice:x` + `1` never reads as `alice` + `x:1`. */
const clientPart = (value: string) => `${value.length}:${value}`;

/**
 * Everything that belongs to one buyer, in the buyer's home region: one hash tag per buyer, so
 * the admission script touches one slot. User ids hold no braces (the edge refuses them).
 */
export function buyerTag(userId: string): string {
  return `{buyer:${clientPart(userId)}}`;
}

export interface BuyerKeys {
  /** Hash: one Idempotency-Key's record (fingerprint, state, regions tried, the stored answer). */
  idempotency(key: string): string;
  /** Hash: order id → units, for every order of this product that counts against the limit. */
  allowance(productId: string): string;
  /** Hash: order id → "region productId", where each of the buyer's orders is served. */
  orders: string;
}

export function buyerKeys(userId: string): BuyerKeys {
  const prefix = `fg:${buyerTag(userId)}`;
  return {
    idempotency: (key) => `${prefix}:idempotency:${clientPart(key)}`,
    allowance: (productId) => `${prefix}:allowance:${productId}`,
    orders: `${prefix}:orders`,
  };
}

/**
 * A product's waiting room in one region, kept in that region's Redis (edge/room/): one hash tag,
 * so a cluster keeps a room on one node.
 */
export interface RoomKeys {
  /** Sorted set: ticket → place (its arrival number; a random place before the start for the lobby). */
  queue: string;
  /** Hash: the admission bucket (tokens, at), arrivals so far, how many of the queue are admitted, units they keep. */
  state: string;
  /** Sorted set: admitted ticket → when, until it orders or its window passes. */
  admits: string;
  /** Hash: ticket → units asked (what its admission may take) or "used" once it ordered. */
  tickets: string;
  /** Hash: buyer → places taken in this room (at most the product's per-user limit). */
  buyers: string;
}

export function roomKeys(region: string, productId: string): RoomKeys {
  const prefix = `fg:{room:${region}:${productId}}`;
  return {
    queue: `${prefix}:queue`,
    state: `${prefix}:state`,
    admits: `${prefix}:admits`,
    tickets: `${prefix}:tickets`,
    buyers: `${prefix}:buyers`,
  };
}
