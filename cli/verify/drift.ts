/**
 * The conservation rules `flux-gate verify` checks, as pure functions over what it read from
 * PostgreSQL, each region's Redis and the transfer ledger. One drift is one broken rule,
 * named for a person.
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

/** A move of the ledger that is not completed, and how far each region's Redis has taken it. */
export interface TransferReading {
  id: string;
  /** null: the unallocated pool. */
  from: string | null;
  to: string | null;
  units: number;
  state: "pending" | "released" | "failed";
  /** The source region's Redis has given the units (its release change is applied). */
  releasedInRedis: boolean;
  /** The target region's Redis has taken them (its claim change is applied). */
  claimedInRedis: boolean;
}

export interface ProductReading {
  productId: string;
  total: number;
  regions: RegionReading[];
  /** Units PostgreSQL gives regions this configuration does not list (a benchmark's region). */
  allocatedElsewhere?: number;
  transfers?: TransferReading[];
}

export interface Drift {
  productId: string;
  region?: string;
  message: string;
}

/**
 * total = unallocated + in transit + Σ regions (available + held + sold), read as: the pool is
 * not negative; each region's Redis holds its allocation, once the ledger's steps that reached
 * Redis and not yet PostgreSQL are counted; and Redis and PostgreSQL agree on what is held
 * and sold. `settled` is false while events are still on their way to PostgreSQL: then only
 * the last rule waits.
 */
export function drifts(product: ProductReading, settled = true): Drift[] {
  const found: Drift[] = [];
  const at = (region: string | undefined, message: string) =>
    found.push({ productId: product.productId, ...(region ? { region } : {}), message });
  const transfers = product.transfers ?? [];

  const allocated = product.regions.reduce((n, r) => n + r.allocation, product.allocatedElsewhere ?? 0);
  const inTransit = transfers.filter((t) => t.state === "released").reduce((n, t) => n + t.units, 0);
  if (allocated + inTransit > product.total) {
    at(
      undefined,
      `regions are given ${allocated} units${inTransit ? ` and ${inTransit} are in transit` : ""} but the product has ${product.total}`,
    );
  }

  for (const t of transfers) {
    if (t.state === "failed" && t.releasedInRedis)
      at(t.from ?? undefined, `transfer ${t.id} failed, yet ${t.from}'s Redis gave up its ${t.units} units`);
    if (t.state !== "released" && t.claimedInRedis)
      at(t.to ?? undefined, `transfer ${t.id} is ${t.state}, yet ${t.to}'s Redis took its ${t.units} units`);
  }

  for (const r of product.regions) {
    // Steps a region's Redis took that PostgreSQL's allocation does not show yet.
    const given = transfers
      .filter((t) => t.state === "pending" && t.from === r.region && t.releasedInRedis)
      .reduce((n, t) => n + t.units, 0);
    const taken = transfers
      .filter((t) => t.state === "released" && t.to === r.region && t.claimedInRedis)
      .reduce((n, t) => n + t.units, 0);
    const expected = r.allocation - given + taken;
    const inFlight = expected === r.allocation ? "" : ` (${expected} with the transfers in flight)`;
    if (!r.redis) {
      if (expected > 0)
        at(r.region, `PostgreSQL gives it ${r.allocation} units${inFlight} but its Redis does not have the product`);
      continue;
    }
    const { allocated: live, available, held, sold } = r.redis;
    if (live !== expected) at(r.region, `PostgreSQL gives it ${r.allocation} units${inFlight}, its Redis ${live}`);
    if (available + held + sold !== live)
      at(
        r.region,
        `available ${available} + held ${held} + sold ${sold} = ${available + held + sold}, not the ${live} allocated`,
      );
    for (const [name, value] of Object.entries({ available, held, sold })) {
      if (value < 0) at(r.region, `${name} is negative (${value})`);
    }
    if (settled && (held !== r.stored.held || sold !== r.stored.sold)) {
      at(
        r.region,
        `Redis has held ${held}, sold ${sold}; PostgreSQL's orders say held ${r.stored.held}, sold ${r.stored.sold}`,
      );
    }
  }
  return found;
}
