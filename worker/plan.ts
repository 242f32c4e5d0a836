/**
 * Pure planning for the worker: Kafka messages in, rows to write (and messages to set aside)
 * out. Nothing here does I/O, so every rule is tested directly.
 */
import { orderEventSchema, statusRank, type OrderEvent } from "../shared/events.ts";
import type { IncomingMessage } from "../shared/kafka.ts";
import { describeIssues } from "../shared/problems.ts";

export interface Poison {
  message: IncomingMessage;
  reason: string;
}

export interface Decoded {
  events: { event: OrderEvent; message: IncomingMessage }[];
  poison: Poison[];
}

export function decode(messages: IncomingMessage[]): Decoded {
  const decoded: Decoded = { events: [], poison: [] };
  for (const message of messages) {
    let json: unknown;
    try {
      json = JSON.parse(message.value ?? "");
    } catch {
      decoded.poison.push({ message, reason: "value is not JSON" });
      continue;
    }
    const parsed = orderEventSchema.safeParse(json);
    if (parsed.success) decoded.events.push({ event: parsed.data, message });
    else decoded.poison.push({ message, reason: `not an order event: ${describeIssues(parsed.error.issues)}` });
  }
  return decoded;
}

export interface OrderRow {
  id: string;
  productId: string;
  region: string;
  originRegion: string;
  homeRegion: string | null;
  userId: string;
  quantity: number;
  status: OrderEvent["type"];
  reservedAt: Date;
  expiresAt: Date | null;
  updatedAt: Date;
}

export interface EventRow {
  orderId: string;
  type: OrderEvent["type"];
  occurredAt: Date;
}

/**
 * One row per order, at the furthest status the batch reached (one multi-row upsert may not
 * touch a row twice), and one row per (order, status) event.
 */
export function plan(events: OrderEvent[]): { orders: OrderRow[]; events: EventRow[] } {
  const furthest = new Map<string, OrderEvent>();
  const seen = new Map<string, EventRow>();
  for (const e of events) {
    const current = furthest.get(e.orderId);
    if (!current || statusRank(e.type) > statusRank(current.type)) furthest.set(e.orderId, e);
    const key = `${e.orderId}:${e.type}`;
    if (!seen.has(key)) seen.set(key, { orderId: e.orderId, type: e.type, occurredAt: new Date(e.at) });
  }
  return {
    orders: [...furthest.values()].map((e) => ({
      id: e.orderId,
      productId: e.productId,
      region: e.region,
      originRegion: e.originRegion,
      homeRegion: e.homeRegion ?? null,
      userId: e.userId,
      quantity: e.quantity,
      status: e.type,
      reservedAt: new Date(e.reservedAt),
      expiresAt: e.expiresAt === null ? null : new Date(e.expiresAt),
      updatedAt: new Date(e.at),
    })),
    events: [...seen.values()],
  };
}

/** SQLSTATE classes 22 (data exception) and 23 (integrity violation): the row, not the server. */
export function isDataError(error: unknown): boolean {
  for (let e: unknown = error; e && typeof e === "object"; e = (e as { cause?: unknown }).cause) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === "string" && /^2[23][0-9A-Z]{3}$/.test(code)) return true;
  }
  return false;
}
