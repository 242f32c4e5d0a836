/**
 * PostgreSQL, the system of record. Redis holds the live counters during a sale; these tables
 * hold what was sold, to whom, and where the units are. Migrations come from this file through
 * drizzle-kit (`npm run db:generate`) and are committed under db/migrations.
 */
import { sql } from "drizzle-orm";
import { MAX_BUCKETS } from "../shared/keys.ts";
import { ROOM_MODES } from "../shared/room-modes.ts";
import {
  bigint,
  boolean,
  check,
  index,
  integer,
  jsonb,
  pgEnum,
  pgTable,
  pgView,
  primaryKey,
  text,
  timestamp,
  unique,
  uuid,
} from "drizzle-orm/pg-core";
import { ORDER_STATUSES } from "../shared/events.ts";

export const orderStatus = pgEnum("order_status", ORDER_STATUSES);
/**
 * pending: recorded, nothing moved yet (or the source's Redis gave the units, PostgreSQL not yet);
 * released: the units left the source and are in transit; completed: they reached the target;
 * failed: refused before any unit moved (the source had too few).
 */
export const transferState = pgEnum("transfer_state", ["pending", "released", "completed", "failed"]);

const createdAt = () => timestamp("created_at", { withTimezone: true }).notNull().defaultNow();
const updatedAt = () => timestamp("updated_at", { withTimezone: true }).notNull().defaultNow();

export const products = pgTable(
  "products",
  {
    id: text("id").primaryKey(),
    name: text("name").notNull(),
    totalUnits: integer("total_units").notNull(),
    startsAt: timestamp("starts_at", { withTimezone: true }).notNull(),
    endsAt: timestamp("ends_at", { withTimezone: true }).notNull(),
    perUserLimit: integer("per_user_limit").notNull(),
    maxPerOrder: integer("max_per_order").notNull(),
    /** How long an unconfirmed reservation keeps its units; 0 sells at once. */
    holdSeconds: integer("hold_seconds").notNull(),
    paused: boolean("paused").notNull().default(false),
    /** The waiting room at the edge (edge/room/): off, queue, or queue with a lobby before the start. */
    roomMode: text("room_mode", { enum: ROOM_MODES }).notNull().default("off"),
    /** Orders admitted per second in each region while the room is on. */
    roomRate: integer("room_rate").notNull().default(100),
    /** Inventory buckets per region (core/reservation/buckets.ts): 1, or more for a hot product; set at creation. */
    buckets: integer("buckets").notNull().default(1),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [
    check("products_total_units_non_negative", sql`${t.totalUnits} >= 0`),
    check("products_window_ordered", sql`${t.endsAt} > ${t.startsAt}`),
    check("products_per_user_limit_positive", sql`${t.perUserLimit} > 0`),
    check("products_max_per_order_positive", sql`${t.maxPerOrder} > 0`),
    check("products_hold_seconds_non_negative", sql`${t.holdSeconds} >= 0`),
    check("products_room_rate_positive", sql`${t.roomRate} > 0`),
    check("products_buckets_in_range", sql`${t.buckets} between 1 and ${sql.raw(String(MAX_BUCKETS))}`),
  ],
);

/** Units of a product given to a region; the rest of its total is the unallocated pool. */
export const allocations = pgTable(
  "allocations",
  {
    productId: text("product_id")
      .notNull()
      .references(() => products.id),
    region: text("region").notNull(),
    units: integer("units").notNull(),
    updatedAt: updatedAt(),
  },
  (t) => [
    primaryKey({ columns: [t.productId, t.region] }),
    check("allocations_units_non_negative", sql`${t.units} >= 0`),
  ],
);

export const orders = pgTable(
  "orders",
  {
    id: uuid("id").primaryKey(),
    productId: text("product_id")
      .notNull()
      .references(() => products.id),
    /** The region whose units serve the order. */
    region: text("region").notNull(),
    /** The region the buyer was routed to first; differs from `region` after a spillover. */
    originRegion: text("origin_region").notNull(),
    /**
     * The buyer's home region (where their allowance lives), as their identity named it or the
     * hash of their id chose it. Null for orders whose events predate it.
     */
    homeRegion: text("home_region"),
    userId: text("user_id").notNull(),
    quantity: integer("quantity").notNull(),
    status: orderStatus("status").notNull(),
    reservedAt: timestamp("reserved_at", { withTimezone: true }).notNull(),
    expiresAt: timestamp("expires_at", { withTimezone: true }),
    updatedAt: updatedAt(),
  },
  (t) => [
    check("orders_quantity_positive", sql`${t.quantity} > 0`),
    check("orders_hold_ends_after_reservation", sql`${t.expiresAt} is null or ${t.expiresAt} > ${t.reservedAt}`),
    index("orders_product_region_status").on(t.productId, t.region, t.status),
    index("orders_user").on(t.userId),
  ],
);

/** Each status an order reached, once: replaying an event cannot add a second row. */
export const orderEvents = pgTable(
  "order_events",
  {
    id: bigint("id", { mode: "number" }).primaryKey().generatedAlwaysAsIdentity(),
    orderId: uuid("order_id")
      .notNull()
      .references(() => orders.id),
    type: orderStatus("type").notNull(),
    occurredAt: timestamp("occurred_at", { withTimezone: true }).notNull(),
  },
  (t) => [unique("order_events_order_type").on(t.orderId, t.type)],
);

/**
 * The ledger of unit moves: region to region, pool to region (a claim) and region to pool (a
 * release). A null region is the product's unallocated pool. Each step is recorded here before
 * the next begins, so any process can resume a move from its state.
 */
export const inventoryTransfers = pgTable(
  "inventory_transfers",
  {
    id: uuid("id").primaryKey(),
    productId: text("product_id")
      .notNull()
      .references(() => products.id),
    fromRegion: text("from_region"),
    toRegion: text("to_region"),
    units: integer("units").notNull(),
    state: transferState("state").notNull().default("pending"),
    /** Why a failed move failed (a problem code). */
    reason: text("reason"),
    requestedBy: text("requested_by").notNull(),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [
    check("inventory_transfers_units_positive", sql`${t.units} > 0`),
    check("inventory_transfers_distinct_regions", sql`${t.fromRegion} is distinct from ${t.toRegion}`),
    index("inventory_transfers_unfinished").on(t.productId).where(sql`${t.state} in ('pending', 'released')`),
  ],
);

/** Who did what through the admin API, refusals included. */
export const adminAudit = pgTable(
  "admin_audit",
  {
    id: bigint("id", { mode: "number" }).primaryKey().generatedAlwaysAsIdentity(),
    at: timestamp("at", { withTimezone: true }).notNull().defaultNow(),
    actor: text("actor").notNull(),
    action: text("action").notNull(),
    productId: text("product_id"),
    region: text("region"),
    /** The HTTP status the action ended with. */
    status: integer("status").notNull(),
    details: jsonb("details").notNull().default({}),
  },
  (t) => [index("admin_audit_at").on(t.at)],
);

/**
 * Held and sold units per (product, region), derived from the orders rather than stored, so
 * they cannot drift from them.
 */
export const regionSales = pgView("region_sales").as((qb) =>
  qb
    .select({
      productId: orders.productId,
      region: orders.region,
      held: sql<number>`coalesce(sum(${orders.quantity}) filter (where ${orders.status} = 'reserved'), 0)::int`.as(
        "held",
      ),
      sold: sql<number>`coalesce(sum(${orders.quantity}) filter (where ${orders.status} = 'confirmed'), 0)::int`.as(
        "sold",
      ),
    })
    .from(orders)
    .groupBy(orders.productId, orders.region),
);
