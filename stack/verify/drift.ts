/**
 * The conservation rules `flux-gate verify` checks, as pure functions over what it read from
 * PostgreSQL and each region's Redis. One drift is one broken rule, named for a person.
 */

export interface RegionReading {
  region: string;
  /** Units PostgreSQL gives the region (allocations). */
  allocation: number;
  /** The region's Redis counters; undefined if the product is not active there. */
  redis?: { allocated: number; available: number; held: number; sold: number };
  /** Held and sold as PostgreSQL's orders say (view region_sales). */
  stored: { held: number; sold: number };
}

export interface ProductReading {
  productId: string;
  total: number;
  regions: RegionReading[];
}

export interface Drift {
  productId: string;
  region?: string;
  message: string;
}

/**
 * total = unallocated + Σ regions (available + held + sold), read as: the pool is not negative,
 * each region's Redis holds exactly its allocation, and Redis and PostgreSQL agree on what
 * is held and sold. `settled` is false while events are still on their way to PostgreSQL:
 * then only the last rule waits.
 */
export function drifts(product: ProductReading, settled = true): Drift[] {
  const found: Drift[] = [];
  const at = (region: string | undefined, message: string) => found.push({ productId: product.productId, ...(region ? { region } : {}), message });

  const allocated = product.regions.reduce((n, r) => n + r.allocation, 0);
  if (allocated > product.total) at(undefined, `regions are given ${allocated} units but the product has ${product.total}`);

  for (const r of product.regions) {
    if (!r.redis) {
      if (r.allocation > 0) at(r.region, `PostgreSQL gives it ${r.allocation} units but its Redis does not have the product`);
      continue;
    }
    const { allocated: live, available, held, sold } = r.redis;
    if (live !== r.allocation) at(r.region, `PostgreSQL gives it ${r.allocation} units, its Redis ${live}`);
    if (available + held + sold !== live) at(r.region, `available ${available} + held ${held} + sold ${sold} = ${available + held + sold}, not the ${live} allocated`);
    for (const [name, value] of Object.entries({ available, held, sold })) {
      if (value < 0) at(r.region, `${name} is negative (${value})`);
    }
    if (settled && (held !== r.stored.held || sold !== r.stored.sold)) {
      at(r.region, `Redis has held ${held}, sold ${sold}; PostgreSQL's orders say held ${r.stored.held}, sold ${r.stored.sold}`);
    }
  }
  return found;
}
