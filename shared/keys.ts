/**
 * Every Redis key Flux-Gate uses. All keys of one (region, product) carry the hash tag
 * `{region:product}`, so they share one Redis Cluster slot and one Lua script can touch them all.
 */

/** Product ids are safe inside a hash tag and a key: no braces, colons or spaces. */
export const PRODUCT_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

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
  };
}

export function orderKey(region: string, productId: string, orderId: string): string {
  return `${productKeys(region, productId).orderPrefix}${orderId}`;
}

/** Set of the product ids active in a region: what the relay and the sweeper walk. */
export function regionProductsKey(region: string): string {
  return `fg:{${region}}:products`;
}

/** Order id → product id, so an order can be found by its id alone. */
export function orderProductKey(region: string, orderId: string): string {
  return `fg:${region}:order-product:${orderId}`;
}
