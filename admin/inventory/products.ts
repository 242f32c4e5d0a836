/**
 * Products and their allocations, as the admin API changes and shows them. PostgreSQL is the
 * record; the regions' cores load the rules from it and apply the ledger's allocation changes.
 */
import { asc, eq, sql } from "drizzle-orm";
import type { Database } from "../../db/client.ts";
import { allocations, products } from "../../db/schema.ts";
import type { Stock } from "../../core/reservation/store.ts";
import type { ProblemCode } from "../../shared/problems.ts";
import { RegionUnavailable, type Cores } from "./cores.ts";
import { unitsOutsideRegions, type MoveRequest, type Transfer } from "./ledger.ts";
import { drive, type MoveDeps } from "./moves.ts";

export type Product = typeof products.$inferSelect;
export type ProductInput = Omit<Product, "createdAt" | "updatedAt" | "paused"> & { paused?: boolean };
export type ProductChange = Partial<Omit<ProductInput, "id">>;

/** What a change did, or the problem code that says why it did nothing (with the transfer it met). */
export type Change<T> = { ok: true; value: T } | { ok: false; code: ProblemCode; detail: string; transfer?: Transfer };

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

export function productService(db: Database, regionIds: string[], moves: MoveDeps & { cores: Cores }) {
  const { cores, ledger } = moves;

  /** Every region loads the product's current rules; the ones that did not answer are named. */
  async function refreshRegions(productId: string): Promise<void> {
    const results = await Promise.allSettled(regionIds.map((r) => cores.activate(r, productId)));
    const failed = results.flatMap((r, i) => (r.status === "rejected" ? [regionIds[i]!] : []));
    if (failed.length > 0) throw new RegionUnavailable(failed.join(", "), "did not take the new rules (they are saved; repeat the request)");
  }

  function window(p: Pick<Product, "startsAt" | "endsAt">): string | undefined {
    return p.endsAt > p.startsAt ? undefined : "endsAt must be after startsAt";
  }

  const service = {
    async list(): Promise<Product[]> {
      return db.select().from(products).orderBy(asc(products.id));
    },

    async create(input: ProductInput): Promise<Change<Product>> {
      const invalid = window(input);
      if (invalid) return { ok: false, code: "invalid_request", detail: invalid };
      const [created] = await db.insert(products).values(input).onConflictDoNothing().returning();
      if (!created) return { ok: false, code: "product_exists", detail: `product ${input.id} exists; PATCH it to change it` };
      await refreshRegions(created.id);
      return { ok: true, value: created };
    },

    async update(id: string, change: ProductChange): Promise<Change<Product>> {
      const outcome = await db.transaction(async (tx): Promise<Change<Product>> => {
        const [current] = await tx.select().from(products).where(eq(products.id, id)).for("update");
        if (!current) return { ok: false, code: "unknown_product", detail: `no product ${id}` };
        const next = { ...current, ...change };
        const invalid = window(next);
        if (invalid) return { ok: false, code: "invalid_request", detail: invalid };
        if (change.totalUnits !== undefined) {
          const committed = current.totalUnits - (await unitsOutsideRegions(tx, id))!.unallocated;
          if (change.totalUnits < committed) {
            return { ok: false, code: "total_below_allocated", detail: `regions hold or are receiving ${committed} units of ${id}` };
          }
        }
        const [updated] = await tx.update(products).set({ ...change, updatedAt: sql`now()` }).where(eq(products.id, id)).returning();
        return { ok: true, value: updated! };
      });
      if (outcome.ok) await refreshRegions(id);
      return outcome;
    },

    /** Records the move, then drives it; a core out of reach leaves it to the resumer. */
    async move(request: MoveRequest): Promise<Change<MoveResult>> {
      const recorded = await ledger.record(request);
      if (recorded.kind === "unknown_product") return { ok: false, code: "unknown_product", detail: `no product ${request.productId}` };
      if (recorded.kind === "conflict") {
        return { ok: false, code: "transfer_conflict", detail: `transfer ${request.id} moved other units; use a new id`, transfer: recorded.transfer };
      }
      await moves.afterStep?.("recorded", recorded.transfer);
      let transfer = recorded.transfer;
      try {
        transfer = await drive(moves, transfer);
      } catch (error) {
        if (!(error instanceof RegionUnavailable)) throw error;
        transfer = (await ledger.get(transfer.id))!;
      }
      return { ok: true, value: { transfer, replayed: recorded.kind === "existing" } };
    },

    /**
     * Moves units so each named region ends with its target: first every region that gives
     * units back to the pool, then every region that takes from it. Returns each move.
     */
    async setAllocations(productId: string, targets: Record<string, number>, requestedBy: string): Promise<Change<MoveResult[]>> {
      const [product] = await db.select().from(products).where(eq(products.id, productId));
      if (!product) return { ok: false, code: "unknown_product", detail: `no product ${productId}` };
      const current = await db.select().from(allocations).where(eq(allocations.productId, productId));
      const deltas = Object.entries(targets).map(([region, units]) => ({ region, delta: units - (current.find((a) => a.region === region)?.units ?? 0) }));
      const ordered = [...deltas.filter((d) => d.delta < 0), ...deltas.filter((d) => d.delta > 0)];
      const results: MoveResult[] = [];
      for (const { region, delta } of ordered) {
        const request = { id: crypto.randomUUID(), productId, units: Math.abs(delta), requestedBy };
        const outcome = await service.move(delta < 0 ? { ...request, from: region, to: null } : { ...request, from: null, to: region });
        if (!outcome.ok) return outcome;
        results.push(outcome.value);
      }
      return { ok: true, value: results };
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
