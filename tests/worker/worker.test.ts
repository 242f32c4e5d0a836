/**
 * The worker process on real Kafka and PostgreSQL: dead letters, PostgreSQL going away, and the
 * allowance feed (each home's topic) surviving a kill -9.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { eq, inArray } from "drizzle-orm";
import { orderEvents, regionSales } from "../../db/schema.ts";
import { waitUntil } from "../../stack/process.ts";
import type { OrderEvent } from "../../shared/events.ts";
import {
  allowanceTopicFor,
  connectConsumer,
  connectProducer,
  type IdempotentProducer,
  type IncomingMessage,
} from "../../shared/kafka.ts";
import { buyerKeys } from "../../shared/keys.ts";
import { connectRedis } from "../../shared/redis.ts";
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
const deadLetters = (key: string, count: number) => readTopic(region.deadLetterTopic, key, count);

/** Reads `topic` from the start until `count` messages with `key` arrived. */
async function readTopic(topic: string, key: string, count: number): Promise<IncomingMessage[]> {
  const found: IncomingMessage[] = [];
  const consumer = await connectConsumer({
    brokers: config.kafka.brokers,
    clientId: "topic-reader",
    groupId: uniqueName("reader"),
    topics: [topic],
    fetch: { minBytes: 1, maxWaitTimeMs: 500 },
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
  describe("the allowance feed", () => {
    const redis = connectRedis(region.redisUrl);
    const other = config.regions.find((r) => r.id !== region.id)!;
    afterAll(() => redis.disconnect());
    /** An order of `userId` homed in `home`, reserved here, and its allowance entry in the home's Redis. */
    const held = async (productId: string, home: string) => {
      const order = reserved(productId, { userId: uniqueName("buyer"), homeRegion: home });
      const allowance = buyerKeys(order.userId).allowance(productId);
      if (home === region.id) await redis.hset(allowance, order.orderId, "1");
      await publish(order.orderId, [JSON.stringify(order)]);
      return { order, allowance };
    };
    const ended = (order: OrderEvent, type: "expired" | "confirmed") =>
      publish(order.orderId, [JSON.stringify({ ...order, type, at: Date.now() })]);
    const givenBack = (allowance: string, orderId: string, timeoutMs = 15_000) =>
      waitUntil(async () => (await redis.hexists(allowance, orderId)) === 0, timeoutMs, 100);

    test("an expiry goes to its buyer's home's topic, and the home's consumer gives the allowance back; a sale keeps it", async () => {
      const productId = await aProduct();
      const expiring = await held(productId, region.id);
      const sold = await held(productId, region.id);
      const elsewhere = await held(productId, other.id);
      await ended(expiring.order, "expired");
      await ended(sold.order, "confirmed");
      await ended(elsewhere.order, "expired");
      expect(await givenBack(expiring.allowance, expiring.order.orderId)).toBe(true);
      // The other home's topic has its buyer's expiry (its own worker's consumer gives it back).
      const fed = await readTopic(allowanceTopicFor(other.id), elsewhere.order.orderId, 1);
      expect(JSON.parse(fed[0]!.value!)).toMatchObject({ type: "expired", homeRegion: other.id });
      await waitForOrders(productId, [sold.order.orderId]);
      expect(await redis.hget(sold.allowance, sold.order.orderId)).toBe("1");
    }, 60_000);

    test("kill -9 the worker: an expiry read while it is gone gives the allowance back once a fresh one is up", async () => {
      const productId = await aProduct();
      const { order, allowance } = await held(productId, region.id);
      await waitForOrders(productId, [order.orderId]);
      await worker.kill("SIGKILL");
      await ended(order, "expired");
      worker = startWorker(region.id);
      // The dead member holds its partitions until its session times out (10 s).
      expect(await givenBack(allowance, order.orderId, 60_000)).toBe(true);
      // Fed before it is persisted: PostgreSQL has it too, soon after.
      const persisted = await waitUntil(
        async () => (await ordersById([order.orderId]))[0]?.status === "expired",
        15_000,
        100,
      );
      expect(persisted).toBe(true);
    }, 120_000);
  });
});
