/**
 * The transfer ledger in PostgreSQL. Every state change is one conditional UPDATE (`where
 * state = …`) in the transaction that also moves the allocation, so two drivers of the same
 * transfer (a request and the resumer, or two admin processes) apply each step once.
 */
import { and, eq, inArray, lt, or, sql } from "drizzle-orm";
import type { Database } from "../../db/client.ts";
import { allocations, inventoryTransfers, products } from "../../db/schema.ts";
import type { ProblemCode } from "../../shared/problems.ts";

export type Transfer = typeof inventoryTransfers.$inferSelect;

export interface MoveRequest {
  id: string;
  productId: string;
  /** null: the product's unallocated pool. */
  from: string | null;
  to: string | null;
  units: number;
  requestedBy: string;
}

export type Recorded =
  | { kind: "new" | "existing"; transfer: Transfer }
  | { kind: "conflict"; transfer: Transfer }
  | { kind: "unknown_product" };

/** The database or a transaction in it. */
export type Executor = Pick<Database, "select" | "update" | "insert">;

/**
 * The product's units outside every region: `unallocated`, the pool a claim may take from,
 * and `inTransit`, released by one side of a move and not yet taken by the other.
 */
export async function unitsOutsideRegions(
  db: Executor,
  productId: string,
): Promise<{ unallocated: number; inTransit: number } | undefined> {
  const sum = (column: typeof allocations.units | typeof inventoryTransfers.units) => ({
    units: sql<number>`coalesce(sum(${column}), 0)::int`,
  });
  const [product] = await db.select({ total: products.totalUnits }).from(products).where(eq(products.id, productId));
  if (!product) return undefined;
  const [given] = await db.select(sum(allocations.units)).from(allocations).where(eq(allocations.productId, productId));
  const [moving] = await db
    .select(sum(inventoryTransfers.units))
    .from(inventoryTransfers)
    .where(and(eq(inventoryTransfers.productId, productId), eq(inventoryTransfers.state, "released")));
  return { unallocated: product.total - given!.units - moving!.units, inTransit: moving!.units };
}

export function transferLedger(db: Database) {
  const advance = (t: Transfer, from: Transfer["state"], set: Partial<Transfer>, tx: Executor = db) =>
    tx
      .update(inventoryTransfers)
      .set({ ...set, updatedAt: sql`now()` })
      .where(and(eq(inventoryTransfers.id, t.id), eq(inventoryTransfers.state, from)))
      .returning();

  const rowOf = (m: MoveRequest) => ({
    id: m.id,
    productId: m.productId,
    fromRegion: m.from,
    toRegion: m.to,
    units: m.units,
    requestedBy: m.requestedBy,
  });
  const ledger = {
    async get(id: string): Promise<Transfer | undefined> {
      const [row] = await db.select().from(inventoryTransfers).where(eq(inventoryTransfers.id, id));
      return row;
    },

    /** Records a move once; the same id again returns it, or a conflict if it asked for another. */
    async record(m: MoveRequest): Promise<Recorded> {
      const [product] = await db.select({ id: products.id }).from(products).where(eq(products.id, m.productId));
      if (!product) return { kind: "unknown_product" };
      const [created] = await db.insert(inventoryTransfers).values(rowOf(m)).onConflictDoNothing().returning();
      if (created) return { kind: "new", transfer: created };
      const existing = (await ledger.get(m.id))!;
      const same =
        existing.productId === m.productId &&
        existing.fromRegion === m.from &&
        existing.toRegion === m.to &&
        existing.units === m.units;
      return { kind: same ? "existing" : "conflict", transfer: existing };
    },

    /** pending → released: the source region's Redis has given the units; PostgreSQL follows. */
    async releasedFromRegion(t: Transfer): Promise<void> {
      await db.transaction(async (tx) => {
        const [moved] = await advance(t, "pending", { state: "released" }, tx);
        if (!moved) {
          // Released or completed: another driver recorded this step. Failed: units left a region
          // for a move that can no longer carry them; say so rather than lose them quietly.
          const [now] = await tx.select().from(inventoryTransfers).where(eq(inventoryTransfers.id, t.id));
          if (now?.state === "failed")
            throw new Error(`${t.fromRegion} released ${t.units} units of ${t.productId} for failed transfer ${t.id}`);
          return;
        }
        const given = await tx
          .update(allocations)
          .set({ units: sql`${allocations.units} - ${t.units}`, updatedAt: sql`now()` })
          .where(and(eq(allocations.productId, t.productId), eq(allocations.region, t.fromRegion!)))
          .returning({ units: allocations.units });
        // Redis gave units PostgreSQL never gave this region: roll back rather than invent units in transit.
        if (given.length === 0)
          throw new Error(
            `${t.fromRegion} has no allocation of ${t.productId} in PostgreSQL to release ${t.units} from`,
          );
      });
    },

    /** pending → released from the pool, or → failed when the pool has too few units. */
    async releasedFromPool(t: Transfer): Promise<void> {
      await db.transaction(async (tx) => {
        // The product row's lock serialises everything that takes from the pool.
        await tx.select({ id: products.id }).from(products).where(eq(products.id, t.productId)).for("update");
        const { unallocated } = (await unitsOutsideRegions(tx, t.productId))!;
        if (unallocated < t.units) await advance(t, "pending", { state: "failed", reason: "insufficient_pool" }, tx);
        else await advance(t, "pending", { state: "released" }, tx);
      });
    },

    /** released → completed: the target has the units (in its Redis, or in the pool). */
    async completed(t: Transfer): Promise<void> {
      await db.transaction(async (tx) => {
        const [moved] = await advance(t, "released", { state: "completed" }, tx);
        if (!moved || !t.toRegion) return;
        await tx
          .insert(allocations)
          .values({ productId: t.productId, region: t.toRegion, units: t.units })
          .onConflictDoUpdate({
            target: [allocations.productId, allocations.region],
            set: { units: sql`${allocations.units} + ${t.units}`, updatedAt: sql`now()` },
          });
      });
    },

    /** pending → failed: nothing moved. */
    async failed(t: Transfer, reason: ProblemCode): Promise<void> {
      await advance(t, "pending", { state: "failed", reason });
    },

    /** Records a planned set of moves at once (inside the planner's transaction), in order. */
    async recordPlan(requests: MoveRequest[], tx: Executor): Promise<Transfer[]> {
      if (requests.length === 0) return [];
      const rows = await tx.insert(inventoryTransfers).values(requests.map(rowOf)).returning();
      return requests.map((m) => rows.find((r) => r.id === m.id)!);
    },

    /** How many moves of the product are pending or released. */
    async unfinishedOf(productId: string, tx: Executor = db): Promise<number> {
      const [row] = await tx
        .select({ n: sql<number>`count(*)::int` })
        .from(inventoryTransfers)
        .where(
          and(eq(inventoryTransfers.productId, productId), inArray(inventoryTransfers.state, ["pending", "released"])),
        );
      return row!.n;
    },

    /** Transfers still moving whose last step is older than `idleMs`: the resumer's work. */
    unfinished(idleMs: number): Promise<Transfer[]> {
      return db
        .select()
        .from(inventoryTransfers)
        .where(
          and(
            inArray(inventoryTransfers.state, ["pending", "released"]),
            lt(inventoryTransfers.updatedAt, sql`now() - ${`${idleMs} milliseconds`}::interval`),
          ),
        )
        .orderBy(inventoryTransfers.createdAt);
    },

    /** The newest moves; `regions` keeps those with either end in one of them. */
    list(filter: { productId?: string; regions?: string[]; limit: number }): Promise<Transfer[]> {
      const conditions = [
        filter.productId ? eq(inventoryTransfers.productId, filter.productId) : undefined,
        filter.regions
          ? or(
              inArray(inventoryTransfers.fromRegion, filter.regions),
              inArray(inventoryTransfers.toRegion, filter.regions),
            )
          : undefined,
      ];
      return db
        .select()
        .from(inventoryTransfers)
        .where(and(...conditions))
        .orderBy(sql`${inventoryTransfers.createdAt} desc`)
        .limit(filter.limit);
    },
  };
  return ledger;
}

export type TransferLedger = ReturnType<typeof transferLedger>;
