/**
 * The order event: what the core's Lua writes to the outbox, the relay publishes to Kafka and
 * the worker applies to PostgreSQL. Every event carries the whole order, so the worker can
 * write the row from any one of them.
 */
import { z } from "zod";

export const ORDER_STATUSES = ["reserved", "confirmed", "cancelled", "expired"] as const;
export type OrderStatus = (typeof ORDER_STATUSES)[number];

/** Statuses only move forward: reserved, then one of the final three. */
export function statusRank(status: OrderStatus): number {
  return status === "reserved" ? 0 : 1;
}

export const orderEventSchema = z.object({
  v: z.literal(1),
  /** The status the order reached. */
  type: z.enum(ORDER_STATUSES),
  orderId: z.uuid(),
  productId: z.string().min(1),
  region: z.string().min(1),
  originRegion: z.string().min(1),
  /**
   * The buyer's home region, where their allowance lives. Absent from events of orders reserved
   * before orders carried it: their buyer's home is the hash of the user id (homeOfEvent).
   */
  homeRegion: z.string().min(1).optional(),
  userId: z.string().min(1),
  quantity: z.number().int().positive(),
  /** When the order was reserved, ms since the epoch. */
  reservedAt: z.number().int(),
  /** When the hold runs out, ms since the epoch; null once sold outright. */
  expiresAt: z.number().int().nullable(),
  /** When this event happened, ms since the epoch. */
  at: z.number().int(),
});

export type OrderEvent = z.infer<typeof orderEventSchema>;
