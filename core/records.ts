/** What the core reads from PostgreSQL, the system of record: sale rules and settled orders. */
import { eq } from "drizzle-orm";
import type { Database } from "../db/client.ts";
import { orders, products } from "../db/schema.ts";
import type { OrderRecord, SaleRules } from "./reservation/store.ts";

export interface Records {
  /** A product's sale rules. */
  rules(productId: string): Promise<SaleRules | undefined>;
  order(orderId: string): Promise<OrderRecord | undefined>;
}

export function postgresRecords(db: Database): Records {
  return {
    async rules(productId) {
      const [row] = await db.select().from(products).where(eq(products.id, productId));
      if (!row) return undefined;
      const { id, startsAt, endsAt, perUserLimit, maxPerOrder, holdSeconds, paused } = row;
      return { productId: id, startsAt, endsAt, perUserLimit, maxPerOrder, holdSeconds, paused };
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
