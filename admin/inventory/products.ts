/**
 * Products and their allocations, as the admin API changes and shows them. PostgreSQL is the
 * record; the regions' cores load the rules from it and apply the ledger's allocation changes.
 */
import { and, asc, eq, inArray, sql } from "drizzle-orm";
import type { Database } from "../../db/client.ts";
import { allocations, orders, products } from "../../db/schema.ts";
import type { Stock } from "../../core/reservation/types.ts";
import type { Result } from "../../shared/result.ts";
import { RegionUnavailable, type Cores } from "./cores.ts";
import { unitsOutsideRegions, type Executor, type MoveRequest, type Transfer } from "./ledger.ts";
import { abandon, drive, type MoveDeps } from "./moves.ts";
import { shareOfPool, type Demand } from "./rebalance.ts";

export type Product = typeof products.$inferSelect;
/** A new product: the room is off, the sale running, the product unsplit unless said otherwise (the table's defaults). */
export type ProductInput = Omit<Product, "createdAt" | "updatedAt" | "paused" | "roomMode" | "roomRate" | "buckets"> &
  Partial<Pick<Product, "paused" | "roomMode" | "roomRate" | "buckets">>;
/** Buckets are set at creation: a region's units already sit in them. */
export type ProductChange = Partial<Omit<ProductInput, "id" | "buckets">>;

/**
 * What a change did; or, refused, why in words and the transfer it collided with, if any.
 */
export type Change<T> = Result<T, { detail: string; transfer?: Transfer }>;

export interface MoveResult {
  transfer: Transfer;
  /** The same id was recorded before; this is that transfer as it stands. */
  replayed: boolean;
}

export interface RegionView {
  region: string;
  /** Units PostgreSQL gives the region. */
  allocation: number;
  /** The region's live counters; undefined when the product is not active there. */
  live?: Stock;
  /** The region's core did not answer. */
  unreachable?: boolean;
}

export interface ProductView {
  product: Product;
  unallocated: number;
  inTransit: number;
  /** Units buyers can still reserve: Σ available over the regions that answered. */
  available: number;
  regions: RegionView[];
}

function sameProduct(stored: Product, input: ProductInput): boolean {
  return (
    stored.name === input.name &&
    stored.totalUnits === input.totalUnits &&
    stored.startsAt.getTime() === input.startsAt.getTime() &&
    stored.endsAt.getTime() === input.endsAt.getTime() &&
    stored.perUserLimit === input.perUserLimit &&
    stored.maxPerOrder === input.maxPerOrder &&
    stored.holdSeconds === input.holdSeconds &&
    stored.paused === (input.paused ?? false) &&
    stored.roomMode === (input.roomMode ?? "off") &&
    (input.roomRate === undefined || stored.roomRate === input.roomRate) &&
    stored.buckets === (input.buckets ?? 1)
  );
}

export function productService(db: Database, regionIds: string[], moves: MoveDeps & { cores: Cores }) {
  const { cores, ledger } = moves;

  /** Every region loads the product's current rules; the ones that did not answer are named. */
  async function refreshRegions(productId: string): Promise<void> {
    const results = await Promise.allSettled(regionIds.map((r) => cores.activate(r, productId)));
    const failed = results.flatMap((r, i) => (r.status === "rejected" ? [regionIds[i]!] : []));
    if (failed.length > 0)
      throw new RegionUnavailable(failed.join(", "), "did not take the new rules (they are saved; repeat the request)");
  }

  function saleWindowProblem(p: Pick<Product, "startsAt" | "endsAt">): string | undefined {
    return p.endsAt > p.startsAt ? undefined : "endsAt must be after startsAt";
  }

  /** Completed or failed; or, when a core is out of reach, as far as it got (the resumer goes on). */
  async function asFarAsItGoes(transfer: Transfer, step: () => Promise<Transfer>): Promise<Transfer> {
    try {
      return await step();
    } catch (error) {
      if (!(error instanceof RegionUnavailable)) throw error;
      return (await ledger.get(transfer.id))!;
    }
  }

  /**
   * Plans moves from each region's change in allocation (`deltasFor`, given the current
   * allocations) and drives them: first every region that gives units back to the pool, then
   * every region that takes from it. The plan is made and recorded in one transaction under
   * the product's row lock, and refused while earlier moves of the product are still in
   * flight, so a retry or a second admin cannot plan the same units twice. Driving stops at
   * the first move that did not complete: the rest are abandoned (moves.ts: failed and never
   * to move, or finished if another driver had started one), as a claim must not run before
   * the releases it needs.
   */
  async function planAndDrive(
    productId: string,
    requestedBy: string,
    deltasFor: (tx: Executor, current: Record<string, number>) => Promise<{ region: string; delta: number }[]>,
  ): Promise<Change<MoveResult[]>> {
    const planned = await db.transaction(async (tx): Promise<Change<Transfer[]>> => {
      const [product] = await tx
        .select({ id: products.id })
        .from(products)
        .where(eq(products.id, productId))
        .for("update");
      if (!product) return { ok: false, code: "unknown_product", detail: `no product ${productId}` };
      const moving = await ledger.unfinishedOf(productId, tx);
      if (moving > 0)
        return {
          ok: false,
          code: "transfer_in_progress",
          detail: `${moving} move(s) of ${productId} are still in flight; set the allocations again once they finish`,
        };
      const rows = await tx.select().from(allocations).where(eq(allocations.productId, productId));
      const deltas = await deltasFor(tx, Object.fromEntries(rows.map((a) => [a.region, a.units])));
      const ordered = [...deltas.filter((d) => d.delta < 0), ...deltas.filter((d) => d.delta > 0)];
      const requests = ordered.map(({ region, delta }) => ({
        id: crypto.randomUUID(),
        productId,
        units: Math.abs(delta),
        requestedBy,
        ...(delta < 0 ? { from: region, to: null } : { from: null, to: region }),
      }));
      return { ok: true, value: await ledger.recordPlan(requests, tx) };
    });
    if (!planned.ok) return planned;
    const results: MoveResult[] = [];
    for (const recorded of planned.value) {
      const stop = results.some((r) => r.transfer.state !== "completed");
      const transfer = await asFarAsItGoes(recorded, () =>
        stop ? abandon(moves, recorded, "move_abandoned") : drive(moves, recorded),
      );
      results.push({ transfer, replayed: false });
    }
    return { ok: true, value: results };
  }

  const service = {
    async list(): Promise<Product[]> {
      return db.select().from(products).orderBy(asc(products.id));
    },

    async create(input: ProductInput): Promise<Change<Product>> {
      const invalid = saleWindowProblem(input);
      if (invalid) return { ok: false, code: "invalid_request", detail: invalid };
      const [created] = await db.insert(products).values(input).onConflictDoNothing().returning();
      const product = created ?? (await db.select().from(products).where(eq(products.id, input.id)))[0]!;
      // The same product again is a retry (of a create a core missed): carry on from it.
      if (!created && !sameProduct(product, input))
        return {
          ok: false,
          code: "product_exists",
          detail: `product ${input.id} exists with other values; PATCH it to change it`,
        };
      await refreshRegions(product.id);
      return { ok: true, value: product };
    },

    async update(id: string, change: ProductChange): Promise<Change<Product>> {
      const outcome = await db.transaction(async (tx): Promise<Change<Product>> => {
        const [current] = await tx.select().from(products).where(eq(products.id, id)).for("update");
        if (!current) return { ok: false, code: "unknown_product", detail: `no product ${id}` };
        const next = { ...current, ...change };
        const invalid = saleWindowProblem(next);
        if (invalid) return { ok: false, code: "invalid_request", detail: invalid };
        if (change.totalUnits !== undefined) {
          const committed = current.totalUnits - (await unitsOutsideRegions(tx, id))!.unallocated;
          if (change.totalUnits < committed) {
            return {
              ok: false,
              code: "total_below_allocated",
              detail: `regions hold or are receiving ${committed} units of ${id}`,
            };
          }
        }
        // The rules' version in every region (SaleRules.version): later than the last one even
        // within a millisecond, as the row lock orders the edits.
        const [updated] = await tx
          .update(products)
          .set({
            ...change,
            updatedAt: sql`greatest(clock_timestamp(), ${products.updatedAt} + interval '1 millisecond')`,
          })
          .where(eq(products.id, id))
          .returning();
        return { ok: true, value: updated! };
      });
      if (outcome.ok) await refreshRegions(id);
      return outcome;
    },

    /** Records the move, then drives it; a core out of reach leaves it to the resumer. */
    async move(request: MoveRequest): Promise<Change<MoveResult>> {
      const recorded = await ledger.record(request);
      if (recorded.kind === "unknown_product")
        return { ok: false, code: "unknown_product", detail: `no product ${request.productId}` };
      if (recorded.kind === "conflict") {
        return {
          ok: false,
          code: "transfer_conflict",
          detail: `transfer ${request.id} moved other units; use a new id`,
          transfer: recorded.transfer,
        };
      }
      await moves.afterStep?.("recorded", recorded.transfer);
      return {
        ok: true,
        value: {
          transfer: await asFarAsItGoes(recorded.transfer, () => drive(moves, recorded.transfer)),
          replayed: recorded.kind === "existing",
        },
      };
    },

    /** Moves units so each named region ends with its target (see planAndDrive). */
    setAllocations(
      productId: string,
      targets: Record<string, number>,
      requestedBy: string,
    ): Promise<Change<MoveResult[]>> {
      return planAndDrive(productId, requestedBy, async (_tx, current) =>
        Object.entries(targets).map(([region, units]) => ({ region, delta: units - (current[region] ?? 0) })),
      );
    },

    /**
     * Gives the unallocated pool to the regions selling fastest over the last `windowMinutes`
     * (shareOfPool). The pool is read under the same lock the moves are planned in.
     */
    async rebalance(
      productId: string,
      windowMinutes: number,
      requestedBy: string,
    ): Promise<Change<{ demand: Demand[]; shares: Record<string, number>; moves: MoveResult[] }>> {
      const demand = (
        await db
          .select({ region: orders.region, recentUnits: sql<number>`coalesce(sum(${orders.quantity}), 0)::int` })
          .from(orders)
          .where(
            and(
              eq(orders.productId, productId),
              inArray(orders.status, ["reserved", "confirmed"]),
              sql`${orders.reservedAt} > now() - ${`${windowMinutes} minutes`}::interval`,
            ),
          )
          .groupBy(orders.region)
      ).filter((d) => regionIds.includes(d.region));
      let shares: Record<string, number> = {};
      const moved = await planAndDrive(productId, requestedBy, async (tx) => {
        shares = shareOfPool((await unitsOutsideRegions(tx, productId))!.unallocated, demand);
        return Object.entries(shares).map(([region, delta]) => ({ region, delta }));
      });
      return moved.ok ? { ok: true, value: { demand, shares, moves: moved.value } } : moved;
    },

    async view(productId: string): Promise<ProductView | undefined> {
      const [product] = await db.select().from(products).where(eq(products.id, productId));
      if (!product) return undefined;
      const [given, outside] = await Promise.all([
        db.select().from(allocations).where(eq(allocations.productId, productId)),
        unitsOutsideRegions(db, productId),
      ]);
      const regions = await Promise.all(
        regionIds.map(async (region): Promise<RegionView> => {
          const allocation = given.find((a) => a.region === region)?.units ?? 0;
          try {
            const live = await cores.stock(region, productId);
            return { region, allocation, ...(live ? { live } : {}) };
          } catch (error) {
            if (!(error instanceof RegionUnavailable)) throw error;
            return { region, allocation, unreachable: true };
          }
        }),
      );
      return {
        product,
        ...outside!,
        available: regions.reduce((n, r) => n + (r.live?.available ?? 0), 0),
        regions,
      };
    },
  };
  return service;
}

export type ProductService = ReturnType<typeof productService>;
