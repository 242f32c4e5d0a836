/** What the core reads from PostgreSQL, the system of record: sale rules, orders, the transfer ledger. */
import { eq, inArray } from "drizzle-orm";
import { transferOfChange } from "../shared/allocation-changes.ts";
import type { Database } from "../db/client.ts";
import { inventoryTransfers, orders, products } from "../db/schema.ts";
import type { OrderRecord, SaleRules, StoredOrder } from "./reservation/types.ts";

export interface Records {
  /** A product's sale rules. */
  rules(productId: string): Promise<SaleRules | undefined>;
  order(orderId: string): Promise<OrderRecord | undefined>;
  /** The orders among `orderIds` that PostgreSQL holds, with the status it holds. */
  storedOrders(orderIds: string[]): Promise<StoredOrder[]>;
  /** The change ids among `changeIds` whose transfer the ledger has settled (completed or failed). */
  settledChanges(changeIds: string[]): Promise<string[]>;
}

export function postgresRecords(db: Database): Records {
  return {
    async rules(productId) {
      const [row] = await db.select().from(products).where(eq(products.id, productId));
      if (!row) return undefined;
      const {
        id,
        startsAt,
        endsAt,
        perUserLimit,
        maxPerOrder,
        holdSeconds,
        paused,
        roomMode,
        roomRate,
        buckets,
        updatedAt,
      } = row;
      return {
        productId: id,
        startsAt,
        endsAt,
        perUserLimit,
        maxPerOrder,
        holdSeconds,
        paused,
        roomMode,
        roomRate,
        buckets,
        version: updatedAt.getTime(),
      };
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
        ...(row.homeRegion ? { homeRegion: row.homeRegion } : {}),
        quantity: row.quantity,
        status: row.status,
        reservedAt: row.reservedAt.getTime(),
        expiresAt: row.expiresAt?.getTime() ?? null,
      };
    },

    async storedOrders(orderIds) {
      if (orderIds.length === 0) return [];
      return db.select({ orderId: orders.id, status: orders.status }).from(orders).where(inArray(orders.id, orderIds));
    },

    async settledChanges(changeIds) {
      const transferIds = [...new Set(changeIds.map(transferOfChange).filter((id) => id !== undefined))];
      if (transferIds.length === 0) return [];
      const rows = await db
        .select({ id: inventoryTransfers.id, state: inventoryTransfers.state })
        .from(inventoryTransfers)
        .where(inArray(inventoryTransfers.id, transferIds));
      const settled = new Set(rows.filter((r) => r.state === "completed" || r.state === "failed").map((r) => r.id));
      return changeIds.filter((id) => settled.has(transferOfChange(id)!));
    },
  };
}
