/**
 * The order event: what the core's Lua writes to the outbox, the relay publishes to Kafka and
 * the worker applies to PostgreSQL. Every event carries the whole order, so the worker can
 * write the row from any one of them.
 */
import { z } from "zod";
import { PRODUCT_ID } from "./keys.ts";

export const ORDER_STATUSES = ["reserved", "confirmed", "cancelled", "expired"] as const;
export type OrderStatus = (typeof ORDER_STATUSES)[number];

/** Statuses only move forward: reserved, then one of the final three. */
export function statusRank(status: OrderStatus): number {
  return status === "reserved" ? 0 : 1;
}

/** Order ids in lower case: PostgreSQL's uuid reads `A…` and `a…` as one order, so Redis must too. */
export const orderIdSchema = z.uuid().transform((id) => id.toLowerCase());

/**
 * ms since the epoch, years 1970 to 9999: what PostgreSQL's timestamp reads back from a `Date`'s
 * ISO text, so that no event that decodes is refused by the database for its time.
 */
const epochMs = z.number().int().min(0).max(253_402_300_799_999);

/** Text as the core's routes bound it (core/http/routes.ts): PostgreSQL takes no NUL, and an index no huge value. */
const text = (max: number) =>
  z
    .string()
    .min(1)
    .max(max)
    .refine((value) => !value.includes("\0"), "must not contain NUL");

export const orderEventSchema = z.object({
  v: z.literal(1),
  /** The status the order reached. */
  type: z.enum(ORDER_STATUSES),
  orderId: orderIdSchema,
  productId: z.string().regex(PRODUCT_ID),
  region: text(32),
  originRegion: text(32),
  /**
   * The buyer's home region, where their allowance lives. Absent from events of orders reserved
   * before orders carried it: their buyer's home is the hash of the user id (homeOfEvent).
   */
  homeRegion: text(32).optional(),
  userId: text(128),
  quantity: z.number().int().positive(),
  /** When the order was reserved, ms since the epoch. */
  reservedAt: epochMs,
  /** When the hold runs out, ms since the epoch; null once sold outright. */
  expiresAt: epochMs.nullable(),
  /** When this event happened, ms since the epoch. */
  at: epochMs,
});

export type OrderEvent = z.infer<typeof orderEventSchema>;
