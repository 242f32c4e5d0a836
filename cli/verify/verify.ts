/**
 * `flux-gate verify`: reads PostgreSQL, the transfer ledger and every configured region's
 * Redis, and checks the conservation rules in drift.ts. Orders on their way from Redis to
 * PostgreSQL, and transfers between steps, are waited for (up to `settleMs`) before a
 * disagreement counts as drift.
 */
import { and, eq, inArray, or, sql as raw } from "drizzle-orm";
import { connectDatabase } from "../../db/client.ts";
import { allocations, inventoryTransfers, products, regionSales } from "../../db/schema.ts";
import { claimChange, releaseChange } from "../../admin/inventory/moves.ts";
import { RegionStore } from "../../core/reservation/store.ts";
import { redactUrl, type Config } from "../../shared/config.ts";
import { connectRegionRedis } from "../../shared/redis.ts";
import { StackError } from "../../stack/process.ts";
import { drifts, type Drift, type ProductReading, type TransferReading } from "./drift.ts";

export interface VerifyResult {
  products: number;
  /** Transfers between steps at the last reading: their units are counted where they are. */
  transfersInFlight: number;
  drifts: Drift[];
}

export async function verify(
  config: Config,
  { productIds, settleMs = 10_000 }: { productIds?: string[]; settleMs?: number } = {},
): Promise<VerifyResult> {
  const { sql, db } = connectDatabase(config.postgres.url, { max: 2 });
  const stores = config.regions.map(
    (r) => new RegionStore(connectRegionRedis(r, r.redisUrl, { reconnect: false }), r.id, 0),
  );
  try {
    await Promise.all(
      stores.map((s, i) =>
        s.redis.connect().catch(() => {
          throw new StackError(
            `cannot reach ${s.region}'s Redis at ${redactUrl(config.regions[i]!.redisUrl)}`,
            "is the stack up? npx flux-gate stack up",
          );
        }),
      ),
    );
    await sql`select 1`.catch(() => {
      throw new StackError(
        `cannot reach PostgreSQL at ${redactUrl(config.postgres.url)}`,
        "is the stack up? npx flux-gate stack up",
      );
    });
    const read = async (): Promise<ProductReading[]> => {
      const rows = await (productIds
        ? db.select().from(products).where(inArray(products.id, productIds))
        : db.select().from(products));
      return Promise.all(
        rows.map(async (p) => {
          const [given, sales, moving] = await Promise.all([
            db.select().from(allocations).where(eq(allocations.productId, p.id)),
            db.select().from(regionSales).where(eq(regionSales.productId, p.id)),
            db
              .select()
              .from(inventoryTransfers)
              .where(
                and(
                  eq(inventoryTransfers.productId, p.id),
                  // Failed moves are checked for a day: none should have moved a unit.
                  or(
                    inArray(inventoryTransfers.state, ["pending", "released"]),
                    raw`${inventoryTransfers.state} = 'failed' and ${inventoryTransfers.updatedAt} > now() - interval '1 day'`,
                  ),
                ),
              ),
          ]);
          const changed = async (region: string | null, change: string) => {
            const store = stores.find((s) => s.region === region);
            return store !== undefined && typeof (await store.allocation.change(p.id, change)) === "number";
          };
          const transfers = await Promise.all(
            moving.map(
              async (t): Promise<TransferReading> => ({
                id: t.id,
                from: t.fromRegion,
                to: t.toRegion,
                units: t.units,
                state: t.state as TransferReading["state"],
                releasedInRedis: await changed(t.fromRegion, releaseChange(t)),
                claimedInRedis: await changed(t.toRegion, claimChange(t)),
              }),
            ),
          );
          return {
            productId: p.id,
            total: p.totalUnits,
            allocatedElsewhere: given
              .filter((a) => !stores.some((s) => s.region === a.region))
              .reduce((n, a) => n + a.units, 0),
            transfers,
            regions: await Promise.all(
              stores.map(async (store) => ({
                region: store.region,
                allocation: given.find((a) => a.region === store.region)?.units ?? 0,
                redis: await store.stock(p.id),
                stored: sales.find((s) => s.region === store.region) ?? { held: 0, sold: 0 },
              })),
            ),
          };
        }),
      );
    };
    const deadline = Date.now() + settleMs;
    for (;;) {
      const readings = await read();
      const found = readings.flatMap((r) => drifts(r));
      if (found.length === 0 || Date.now() >= deadline) {
        const transfersInFlight = readings.reduce(
          (n, r) => n + (r.transfers ?? []).filter((t) => t.state !== "failed").length,
          0,
        );
        return { products: readings.length, transfersInFlight, drifts: found };
      }
      await Bun.sleep(500);
    }
  } finally {
    for (const store of stores) store.redis.disconnect();
    await sql.end();
  }
}
