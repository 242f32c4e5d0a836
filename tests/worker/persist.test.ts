/**
 * The worker's write to real PostgreSQL: what a batch leaves behind on its connection, nulls
 * and statuses round-tripping through the column arrays, and one bad row refused alone.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { inArray } from "drizzle-orm";
import { connectDatabase } from "../../db/client.ts";
import { orderEvents, orders } from "../../db/schema.ts";
import type { OrderEvent } from "../../shared/events.ts";
import { persist } from "../../worker/persist.ts";
import { decode } from "../../worker/plan.ts";
import { config } from "../support/helpers.ts";
import { insertProduct } from "../support/harness.ts";

const region = config.regions[0]!;
// One connection, so that what the batches prepared is all on the session the test asks.
const { db, sql } = connectDatabase(config.postgres.url, { max: 1 });
afterAll(() => sql.end());

function event(productId: string, overrides: Partial<OrderEvent> = {}): { event: OrderEvent } {
  const now = Date.now();
  return {
    event: {
      v: 1,
      type: "reserved",
      orderId: crypto.randomUUID(),
      productId,
      region: region.id,
      originRegion: region.id,
      homeRegion: region.id,
      userId: `buyer-${crypto.randomUUID()}`,
      quantity: 1,
      reservedAt: now,
      expiresAt: now + 600_000,
      at: now,
      ...overrides,
    },
  };
}

/** `run`'s result and how many transactions it began on the test's connection. */
async function countingTransactions<T>(run: () => Promise<T>): Promise<{ result: T; transactions: number }> {
  const begin = sql.begin;
  let transactions = 0;
  sql.begin = ((...args: Parameters<typeof begin>) => {
    transactions++;
    return begin.apply(sql, args);
  }) as typeof begin;
  try {
    return { result: await run(), transactions };
  } finally {
    sql.begin = begin;
  }
}

describe("persist", () => {
  test("batches of forty sizes leave two prepared inserts on the connection, not one per size", async () => {
    const productId = await insertProduct({ totalUnits: 10_000, perUserLimit: 10, maxPerOrder: 10 });
    for (let size = 1; size <= 40; size++) {
      const rejected = await persist(
        db,
        Array.from({ length: size }, () => event(productId)),
      );
      expect(rejected).toEqual([]);
    }
    const [prepared] = await sql<{ texts: number; statements: number }[]>`
      select count(distinct statement)::int as texts, count(*)::int as statements
      from pg_prepared_statements where statement ilike 'insert%'`;
    expect(prepared!.texts).toBe(2);
    expect(prepared!.statements).toBe(2);
  });

  test("nulls, a buyer without a home and a batch that reserves and confirms one order come back as written", async () => {
    const productId = await insertProduct({ totalUnits: 10_000, perUserLimit: 10, maxPerOrder: 10 });
    const held = event(productId, { quantity: 3 });
    const sold = event(productId, { expiresAt: null, homeRegion: undefined });
    const confirmed = { event: { ...sold.event, type: "confirmed" as const, at: sold.event.at + 5 } };
    expect(await persist(db, [held, sold, confirmed])).toEqual([]);

    const ids = [held.event.orderId, sold.event.orderId];
    const rows = await db.select().from(orders).where(inArray(orders.id, ids));
    const byId = new Map(rows.map((r) => [r.id, r]));
    expect(byId.get(held.event.orderId)).toMatchObject({
      status: "reserved",
      quantity: 3,
      homeRegion: region.id,
      userId: held.event.userId,
      expiresAt: new Date(held.event.expiresAt!),
      reservedAt: new Date(held.event.reservedAt),
    });
    expect(byId.get(sold.event.orderId)).toMatchObject({
      status: "confirmed",
      homeRegion: null,
      expiresAt: null,
      updatedAt: new Date(confirmed.event.at),
    });
    const events = await db.select().from(orderEvents).where(inArray(orderEvents.orderId, ids));
    expect(events.map((e) => `${e.orderId === sold.event.orderId ? "sold" : "held"}:${e.type}`).sort()).toEqual([
      "held:reserved",
      "sold:confirmed",
      "sold:reserved",
    ]);

    // Replayed, the same batch changes nothing: the confirmed order does not go back to reserved.
    expect(await persist(db, [held, sold])).toEqual([]);
    const [after] = await db
      .select()
      .from(orders)
      .where(inArray(orders.id, [sold.event.orderId]));
    expect(after!.status).toBe("confirmed");
  });

  test("a row PostgreSQL refuses is named and the rest of its batch is written", async () => {
    const productId = await insertProduct({ totalUnits: 10_000, perUserLimit: 10, maxPerOrder: 10 });
    const good = [event(productId), event(productId)];
    const bad = event(productId, { quantity: 0 });
    const rejected = await persist(db, [good[0]!, bad, good[1]!]);
    expect(rejected.map((r) => r.item)).toEqual([bad]);
    expect(rejected[0]!.reason).toContain("orders_quantity_positive");
    const written = await db
      .select({ id: orders.id })
      .from(orders)
      .where(
        inArray(
          orders.id,
          [...good, bad].map((g) => g.event.orderId),
        ),
      );
    expect(written.map((r) => r.id).sort()).toEqual(good.map((g) => g.event.orderId).sort());
  });

  test("one bad row in 1,024 costs some twenty transactions, not a thousand", async () => {
    const productId = await insertProduct({ totalUnits: 100_000, perUserLimit: 10, maxPerOrder: 10 });
    const items = Array.from({ length: 1_024 }, (_, i) => event(productId, i === 700 ? { quantity: 0 } : {}));
    const { result: rejected, transactions } = await countingTransactions(() => persist(db, items));
    expect(rejected.map((r) => r.item)).toEqual([items[700]!]);
    // Halving 1,024 down to the eight rows around the bad one (1 + 2 × 7), then those eight alone.
    expect(transactions).toBeLessThanOrEqual(23);
    const [written] = await sql<{ n: number }[]>`
      select count(*)::int as n from orders where product_id = ${productId}`;
    expect(written!.n).toBe(1_023);
  });

  test("a batch whose every row is refused costs about 1.25 transactions a row, each row named once", async () => {
    const productId = await insertProduct({ totalUnits: 10_000, perUserLimit: 10, maxPerOrder: 10 });
    const items = Array.from({ length: 64 }, () => event(productId, { quantity: 0 }));
    let heartbeats = 0;
    const { result: rejected, transactions } = await countingTransactions(() =>
      persist(db, items, { heartbeat: async () => void heartbeats++ }),
    );
    expect(rejected.map((r) => r.item)).toEqual(items);
    // Halving alone would take 2n − 1 = 127; one at a time 64.
    expect(transactions).toBeLessThanOrEqual(80);
    expect(heartbeats).toBeGreaterThan(0);
  });

  test("user ids with quotes, backslashes, commas, braces, NULL, blanks and emoji come back as written", async () => {
    const productId = await insertProduct({ totalUnits: 10_000, perUserLimit: 10, maxPerOrder: 10 });
    const odd = ['a"b', "a\\b", "a,b", "{a}", "NULL", "null", " ", "a b", "a\tb\nc", "🛒", '\\"}{,'];
    const items = odd.map((userId) => event(productId, { userId }));
    expect(await persist(db, items)).toEqual([]);
    const rows = await db
      .select({ id: orders.id, userId: orders.userId })
      .from(orders)
      .where(
        inArray(
          orders.id,
          items.map((i) => i.event.orderId),
        ),
      );
    const byId = new Map(rows.map((r) => [r.id, r.userId]));
    expect(items.map((i) => byId.get(i.event.orderId))).toEqual(odd);
  });

  test("a NUL in one user id refuses that row alone", async () => {
    const productId = await insertProduct({ totalUnits: 10_000, perUserLimit: 10, maxPerOrder: 10 });
    const good = event(productId);
    const bad = event(productId, { userId: "buyer\u0000" });
    const rejected = await persist(db, [good, bad]);
    expect(rejected.map((r) => r.item)).toEqual([bad]);
    expect(rejected[0]!.reason).toContain("0x00");
  });

  test("an order's events with its id in upper and lower case are one order", async () => {
    const productId = await insertProduct({ totalUnits: 10_000, perUserLimit: 10, maxPerOrder: 10 });
    const held = event(productId);
    const confirmed = {
      ...held.event,
      type: "confirmed",
      orderId: held.event.orderId.toUpperCase(),
      at: held.event.at + 5,
    };
    const { events, poison } = decode(
      [held.event, confirmed].map((e) => ({
        topic: "orders",
        partition: 0,
        offset: "0",
        key: null,
        value: JSON.stringify(e),
        headers: {},
      })),
    );
    expect(poison).toEqual([]);
    expect(await persist(db, events)).toEqual([]);
    const [row] = await db
      .select()
      .from(orders)
      .where(inArray(orders.id, [held.event.orderId]));
    expect(row!.status).toBe("confirmed");
  });
});
