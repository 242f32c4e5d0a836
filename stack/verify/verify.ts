/**
 * `flux-gate verify`: reads PostgreSQL and every configured region's Redis and checks the
 * conservation rules in drift.ts. Orders on their way from Redis to PostgreSQL are waited for
 * (up to `settleMs`) before a disagreement about held and sold counts as drift.
 */
import { eq, inArray } from "drizzle-orm";
import { connectDatabase } from "../../db/client.ts";
import { allocations, products, regionSales } from "../../db/schema.ts";
import { RegionStore } from "../../core/reservation/store.ts";
import type { Config } from "../../shared/config.ts";
import { connectRedis } from "../../shared/redis.ts";
import { StackError } from "../process.ts";
import { drifts, type Drift, type ProductReading } from "./drift.ts";

export interface VerifyResult {
  products: number;
  drifts: Drift[];
}

export async function verify(config: Config, { productIds, settleMs = 10_000 }: { productIds?: string[]; settleMs?: number } = {}): Promise<VerifyResult> {
  const { sql, db } = connectDatabase(config.postgres.url, { max: 2 });
  const stores = config.regions.map((r) => new RegionStore(connectRedis(r.redisUrl, { reconnect: false }), r.id, 0));
  try {
    await Promise.all(
      stores.map((s, i) =>
        s.redis.connect().catch(() => {
          throw new StackError(`cannot reach ${s.region}'s Redis at ${config.regions[i]!.redisUrl}`, "is the stack up? npx flux-gate stack up");
        }),
      ),
    );
    await sql`select 1`.catch(() => {
      throw new StackError(`cannot reach PostgreSQL at ${config.postgres.url}`, "is the stack up? npx flux-gate stack up");
    });
    const read = async (): Promise<ProductReading[]> => {
      const rows = await (productIds ? db.select().from(products).where(inArray(products.id, productIds)) : db.select().from(products));
      return Promise.all(
        rows.map(async (p) => {
          const [given, sales] = await Promise.all([
            db.select().from(allocations).where(eq(allocations.productId, p.id)),
            db.select().from(regionSales).where(eq(regionSales.productId, p.id)),
          ]);
          return {
            productId: p.id,
            total: p.totalUnits,
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
      if (found.length === 0 || Date.now() >= deadline) return { products: readings.length, drifts: found };
      await Bun.sleep(500);
    }
  } finally {
    for (const store of stores) store.redis.disconnect();
    await sql.end();
  }
}
