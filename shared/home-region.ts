/**
 * A buyer's home region: where their idempotency records, rate-limit windows and allowances
 * live. It comes from who the buyer is, never from where the request comes from (a VPN would
 * give a buyer a second home, and with it a second allowance):
 *
 * 1. the region the identity names (a JWT claim the identity provider sets, the account's
 *    region; `X-Home-Region` in development identity mode), checked against the regions;
 * 2. else a rendezvous (highest-random-weight) hash of the user id over the region ids: every
 *    edge, on every runtime, and the allowance consumer pick the same one without a lookup, and
 *    adding a region moves only the buyers the new region wins, never one between two old ones.
 *
 * Pure: the identity middleware resolves it once per request; everything else reads the result.
 */

/** What a request's identity says of its buyer's home. */
export type HomeResolution = { kind: "home"; region: string } | { kind: "unknown"; named: string };

/**
 * The buyer's home: the named region when the identity names one (refused when this deployment
 * has no such region: serving the buyer elsewhere would give them a second allowance), else the
 * rendezvous hash of the user id. An empty name is no name.
 */
export function resolveHome(userId: string, named: string | undefined, regionIds: readonly string[]): HomeResolution {
  if (!named) return { kind: "home", region: rendezvousHome(userId, regionIds) };
  return regionIds.includes(named) ? { kind: "home", region: named } : { kind: "unknown", named };
}

/**
 * The region with the highest weight for `key`, the weight being a hash of (region, key). A new
 * region takes the keys for which it weighs most, about 1/(n+1) of them, and every other key
 * keeps its old winner. Ties (1 in 2^32 per pair) go to the region listed first, so the order
 * of the list never matters otherwise.
 */
export function rendezvousHome(key: string, regionIds: readonly string[]): string {
  let best = regionIds[0]!;
  let bestWeight = -1;
  for (const region of regionIds) {
    const weight = weightOf(region, key);
    if (weight > bestWeight) {
      best = region;
      bestWeight = weight;
    }
  }
  return best;
}

/**
 * FNV-1a (32-bit) over region, a separator no region id contains, and key; then murmur3's
 * finalizer. FNV-1a alone spreads well but its last bytes move few high bits, and rendezvous
 * compares whole weights: the finalizer mixes every input bit into every output bit. Math.imul
 * keeps it exact 32-bit arithmetic on every runtime; a fraction of SHA-256's cost per order.
 */
function weightOf(region: string, key: string): number {
  let hash = 0x811c9dc5;
  const input = `${region}\u0000${key}`;
  for (let i = 0; i < input.length; i++) {
    hash ^= input.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  hash ^= hash >>> 16;
  hash = Math.imul(hash, 0x85ebca6b);
  hash ^= hash >>> 13;
  hash = Math.imul(hash, 0xc2b2ae35);
  hash ^= hash >>> 16;
  return hash >>> 0;
}
