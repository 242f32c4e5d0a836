/** The worker process on real Kafka and PostgreSQL: dead letters, and PostgreSQL going away. */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { eq, inArray } from "drizzle-orm";
import { orderEvents, regionSales } from "../../db/schema.ts";
import { waitUntil } from "../../stack/process.ts";
import type { OrderEvent } from "../../shared/events.ts";
import { connectConsumer, connectProducer, type IdempotentProducer, type IncomingMessage } from "../../shared/kafka.ts";
import { postgresService } from "../../stack/services/postgres.ts";
import { DEAD_LETTER_HEADERS } from "../../worker/dead-letter.ts";
import { config, uniqueName } from "../support/helpers.ts";
import { database, insertProduct, ordersById, startWorker, waitForOrders, type Child } from "../support/harness.ts";

const region = config.regions[1]!;
let worker: Child;
let producer: IdempotentProducer;

const aProduct = () => insertProduct({ totalUnits: 10_000, perUserLimit: 10, maxPerOrder: 10 });

function reserved(productId: string, overrides: Partial<OrderEvent> = {}): OrderEvent {
  const now = Date.now();
  return {
    v: 1,
    type: "reserved",
    orderId: crypto.randomUUID(),
    productId,
    region: region.id,
    originRegion: region.id,
    userId: "u",
    quantity: 1,
    reservedAt: now,
    expiresAt: now + 600_000,
    at: now,
    ...overrides,
  };
}

const publish = (key: string, values: string[]) =>
  producer.send(
    region.kafkaTopic,
    values.map((value) => ({ key, value })),
  );

/** Reads the dead-letter topic until `count` messages with `key` arrived. */
async function deadLetters(key: string, count: number): Promise<IncomingMessage[]> {
  const found: IncomingMessage[] = [];
  const consumer = await connectConsumer({
    brokers: config.kafka.brokers,
    clientId: "dlq-reader",
    groupId: uniqueName("dlq"),
    topics: [region.deadLetterTopic],
  });
  await new Promise<void>((done) => {
    void consumer.run(async (batch) => {
      found.push(...batch.filter((m) => m.key === key));
      if (found.length >= count) done();
    });
  });
  await consumer.disconnect();
  return found;
}

describe("worker", () => {
  beforeAll(async () => {
    worker = startWorker(region.id);
    producer = await connectProducer({ brokers: config.kafka.brokers, clientId: "worker-test" });
  }, 30_000);
  afterAll(async () => {
    await worker.kill();
    await producer.disconnect();
  }, 30_000);

  test("sends poison messages to the dead-letter topic with the reason, and the partition keeps flowing", async () => {
    const productId = await aProduct();
    const key = uniqueName("poison"); // one key: one partition, in this order
    const before = reserved(productId);
    const after = reserved(productId);
    const refused = reserved(productId, { expiresAt: before.reservedAt - 1 });
    await publish(key, [
      JSON.stringify(before),
      "{not json",
      JSON.stringify({ ...reserved(productId), quantity: -1 }),
      JSON.stringify(reserved(uniqueName("ghost"))),
      JSON.stringify(refused),
      JSON.stringify(after),
    ]);

    await waitForOrders(productId, [before.orderId, after.orderId], 30_000);
    expect((await ordersById([before.orderId, after.orderId, refused.orderId])).map((o) => o.id).sort()).toEqual(
      [before.orderId, after.orderId].sort(),
    );

    const letters = await deadLetters(key, 4);
    const reasons = letters.map((m) => m.headers[DEAD_LETTER_HEADERS.reason]);
    expect(reasons).toEqual([
      "value is not JSON",
      expect.stringContaining("not an order event: quantity"),
      expect.stringMatching(/^unknown product ghost-/),
      expect.stringContaining("orders_hold_ends_after_reservation"),
    ]);
    for (const m of letters) {
      expect(m.headers[DEAD_LETTER_HEADERS.topic]).toBe(region.kafkaTopic);
      expect(Number(m.headers[DEAD_LETTER_HEADERS.offset])).toBeGreaterThanOrEqual(0);
    }
  }, 60_000);

  test("a status only moves forward: a stale reserved after a committed confirmed changes nothing, and each status has one event row", async () => {
    const productId = await aProduct();
    const key = uniqueName("forward"); // one key: one partition, delivered in this order
    const order = reserved(productId);
    const confirmed = { ...order, type: "confirmed" as const, expiresAt: null, at: order.at + 1 };
    await publish(key, [JSON.stringify(order), JSON.stringify(confirmed)]);
    await waitUntil(async () => (await ordersById([order.orderId]))[0]?.status === "confirmed", 30_000);

    // A later batch redelivers the first event (at least once), then a marker to wait for.
    const marker = reserved(productId);
    await publish(key, [JSON.stringify(order), JSON.stringify(marker)]);
    await waitForOrders(productId, [marker.orderId], 30_000);
    expect((await ordersById([order.orderId]))[0]).toMatchObject({ status: "confirmed" });
    const events = await database.db.select().from(orderEvents).where(eq(orderEvents.orderId, order.orderId));
    expect(events.map((e) => e.type).sort()).toEqual(["confirmed", "reserved"]);
  }, 60_000);

  test.if(!config.postgres.external)(
    "waits out a PostgreSQL outage, then catches up without losing or doubling an event",
    async () => {
      const productId = await aProduct();
      const first = Array.from({ length: 200 }, () => reserved(productId));
      await publish(
        "pg-outage",
        first.map((e) => JSON.stringify(e)),
      );
      await waitForOrders(
        productId,
        first.map((e) => e.orderId),
        30_000,
      );

      const postgres = postgresService(config);
      await postgres.stop();
      const during = Array.from({ length: 300 }, () => reserved(productId));
      const confirmations = first.slice(0, 50).map((e) => ({ ...e, type: "confirmed" as const, at: e.at + 1 }));
      try {
        await publish(
          "pg-outage",
          [...during, ...confirmations].map((e) => JSON.stringify(e)),
        );
        await Bun.sleep(2_000); // the worker retries with backoff meanwhile
      } finally {
        await postgres.start(() => {});
      }

      const rows = await waitForOrders(
        productId,
        [...first, ...during].map((e) => e.orderId),
        60_000,
      );
      expect(rows).toHaveLength(first.length + during.length);
      const allConfirmed = async () =>
        (await ordersById(confirmations.map((c) => c.orderId))).every((o) => o.status === "confirmed");
      expect(await waitUntil(allConfirmed, 30_000)).toBe(true);
      const events = await database.db
        .select()
        .from(orderEvents)
        .where(
          inArray(
            orderEvents.orderId,
            rows.map((r) => r.id),
          ),
        );
      expect(events.filter((e) => e.type === "reserved")).toHaveLength(first.length + during.length);
      expect(events.filter((e) => e.type === "confirmed")).toHaveLength(confirmations.length);

      // Held and sold per (product, region) are derived from the orders, so they agree.
      const [sales] = await database.db.select().from(regionSales).where(eq(regionSales.productId, productId));
      expect(sales).toEqual({
        productId,
        region: region.id,
        held: first.length + during.length - confirmations.length,
        sold: confirmations.length,
      });
    },
    120_000,
  );
});
