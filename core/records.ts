/** What the core reads from PostgreSQL, the system of record: sale rules and settled orders. */
import { and, eq } from "drizzle-orm";
import type { Database } from "../db/client.ts";
import { allocations, orders, products } from "../db/schema.ts";
import type { OrderRecord, SaleRules } from "./reservation/store.ts";

export interface Records {
  /** A product's rules and this region's allocation (0 when it has none). */
  sale(productId: string, region: string): Promise<{ rules: SaleRules; allocated: number } | undefined>;
  order(orderId: string): Promise<OrderRecord | undefined>;
}

export function postgresRecords(db: Database): Records {
  return {
    async sale(productId, region) {
      const [row] = await db
        .select({ product: products, units: allocations.units })
        .from(products)
        .leftJoin(allocations, and(eq(allocations.productId, products.id), eq(allocations.region, region)))
        .where(eq(products.id, productId));
      if (!row) return undefined;
      const { id, startsAt, endsAt, perUserLimit, maxPerOrder, holdSeconds, paused } = row.product;
      return { rules: { productId: id, startsAt, endsAt, perUserLimit, maxPerOrder, holdSeconds, paused }, allocated: row.units ?? 0 };
    },

    async order(orderId) {
      const [row] = await db.select().from(orders).where(eq(orders.id, orderId));
      if (!row) return undefined;
      return {
        orderId: row.id,
        productId: row.productId,
        region: row.region,
        originRegion: row.originRegion,
        userId: row.userId,
        quantity: row.quantity,
        status: row.status,
        reservedAt: row.reservedAt.getTime(),
        expiresAt: row.expiresAt?.getTime() ?? null,
      };
    },
  };
}
