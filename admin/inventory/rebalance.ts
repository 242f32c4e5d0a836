/**
 * Rebalancing, pure: the unallocated pool goes to the regions selling fastest, in proportion
 * to the units each sold (or holds) in a recent window. Only pool units move; a region's own
 * units stay where they are, so rebalancing can never take stock from under a buyer.
 */
export interface Demand {
  region: string;
  /** Units reserved or sold in the window. */
  recentUnits: number;
}

/**
 * `pool` split by demand, in whole units by largest remainder (ties to the busier region):
 * the shares add up to the pool exactly. No demand anywhere: nothing to go by, no shares.
 */
export function shareOfPool(pool: number, demand: Demand[]): Record<string, number> {
  const selling = demand.filter((d) => d.recentUnits > 0);
  const sum = selling.reduce((n, d) => n + d.recentUnits, 0);
  if (pool <= 0 || sum === 0) return {};
  const exact = selling.map((d) => ({ ...d, share: (pool * d.recentUnits) / sum }));
  const shares = Object.fromEntries(exact.map((d) => [d.region, Math.floor(d.share)]));
  let left = pool - Object.values(shares).reduce((n, s) => n + s, 0);
  const byRemainder = [...exact].sort(
    (a, b) => b.share - Math.floor(b.share) - (a.share - Math.floor(a.share)) || b.recentUnits - a.recentUnits,
  );
  for (const d of byRemainder) {
    if (left === 0) break;
    shares[d.region]!++;
    left--;
  }
  return Object.fromEntries(Object.entries(shares).filter(([, s]) => s > 0));
}
