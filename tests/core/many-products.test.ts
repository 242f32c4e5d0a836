/**
 * A region with 1,000 products on sale, against a Redis of the test's own (its command
 * counters are the evidence) and the real Kafka. The outbox relay reads only the outboxes that
 * changed, and its walk over every product finds an entry no one noted (a core that died
 * between its script and its note); the expiry sweeper looks only at products whose holds may
 * be due.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { startRelay, type Relay } from "../../core/relay/relay.ts";
import { startSweeper } from "../../core/sweeper/sweeper.ts";
import { parseInfo } from "../../core/reservation/redis-info.ts";
import { RegionStore } from "../../core/reservation/store.ts";
import { connectProducer, ensureTopics } from "../../shared/kafka.ts";
import { productKeys } from "../../shared/keys.ts";
import { connectRedis, type Redis } from "../../shared/redis.ts";
import { waitUntil } from "../../stack/process.ts";
import { config, ownRedis, saleRules, uniqueName } from "../support/helpers.ts";

const REGION = "test-relay";
const PRODUCTS = 1_000;
const kafka = { brokers: config.kafka.brokers, clientId: "test-relay" };

const calls = async (redis: Redis, command: string) =>
  Number(parseInfo(await redis.info("commandstats"))[`cmdstat_${command}`]?.match(/calls=(\d+)/)?.[1] ?? 0);

describe("1,000 products on sale", () => {
  let server: Awaited<ReturnType<typeof ownRedis>>;
  let redis: Redis;
  let store: RegionStore;
  let relay: Relay;
  let published = 0;
  const products = Array.from({ length: PRODUCTS }, (_, i) => `relay-${i}`);
  const reserve = (productId: string) =>
    store.reserve({ orderId: crypto.randomUUID(), userId: "buyer", productId, quantity: 1, originRegion: REGION });
  const outboxesEmpty = async () =>
    (await Promise.all(products.map((p) => redis.xlen(productKeys(REGION, p).outbox)))).every((n) => n === 0);

  beforeAll(async () => {
    server = await ownRedis();
    redis = connectRedis(server.url);
    store = new RegionStore(redis, REGION, 100_000);
    await Promise.all(
      products.map(async (productId) => {
        await store.activate(saleRules("relay", { productId, perUserLimit: 100_000, maxPerOrder: 1 }));
        await store.allocation.allocate(productId, "initial", 100_000);
      }),
    );
    const topic = uniqueName("flux-gate.test-relay");
    await ensureTopics(kafka, [{ name: topic, partitions: 1 }]);
    relay = startRelay({
      outbox: store.outbox,
      topic,
      connect: () => connectProducer(kafka),
      walkIntervalMs: 500,
      onPublished: (n) => (published += n),
    });
  }, 60_000);
  afterAll(async () => {
    await relay.stop(); // a second stop (after the sweeper's test) finds nothing left
    redis.disconnect();
    await server.stop();
  }, 30_000);

  test("the relay publishes an order from each of them, then reads only the outboxes that change", async () => {
    expect((await Promise.all(products.map(reserve))).every((r) => r.ok)).toBe(true);
    expect(await waitUntil(async () => published === PRODUCTS && (await outboxesEmpty()), 30_000, 100)).toBe(true);

    await redis.config("RESETSTAT");
    const started = Date.now();
    let placed = 0;
    while (Date.now() - started < 2_000) {
      const outcomes = await Promise.all(Array.from({ length: 20 }, () => reserve(products[7]!)));
      placed += outcomes.filter((o) => o.ok).length;
      await Bun.sleep(20);
    }
    expect(placed).toBeGreaterThan(200);
    expect(await waitUntil(async () => published === PRODUCTS + placed && (await outboxesEmpty()), 30_000, 100)).toBe(
      true,
    );
    const reads = await calls(redis, "xrange");
    // Rounds every ~20 ms read the one changing outbox; the walks (every 500 ms) read all
    // 1,000. Walking every product each round, as the relay did before, would be ≥ 50,000.
    expect(reads).toBeGreaterThan(0);
    expect(reads).toBeLessThan(6 * PRODUCTS);
  }, 60_000);

  test("the relay finds an entry that no one noted on its next walk", async () => {
    const before = published;
    const outbox = productKeys(REGION, products[500]!).outbox;
    await redis.xadd(outbox, "*", "order", crypto.randomUUID(), "event", "{}");
    expect(await waitUntil(async () => published === before + 1 && (await redis.xlen(outbox)) === 0, 5_000, 50)).toBe(
      true,
    );
  }, 30_000);

  test("the sweeper looks again only at products whose holds may be due, and still expires them on time", async () => {
    // The relay's take of the pending set is a script too: only the sweeper's count here.
    await relay.stop();
    const sweeper = startSweeper(store, 3_600_000);
    // Every product holds an order for 10 minutes: after one look at each, none is due.
    expect(await sweeper.sweep()).toBe(0);
    await redis.config("RESETSTAT");
    for (let i = 0; i < 10; i++) expect(await sweeper.sweep()).toBe(0);
    expect(await calls(redis, "evalsha")).toBe(0);

    const quick = "relay-quick";
    await store.activate(saleRules(quick, { productId: quick, perUserLimit: 10, maxPerOrder: 1, holdSeconds: 1 }));
    await store.allocation.allocate(quick, "initial", 10);
    expect(await sweeper.sweep()).toBe(0);
    await reserve(quick);
    await Bun.sleep(1_100);
    expect(await sweeper.sweep()).toBe(1);
    expect(await store.stock(quick)).toMatchObject({ available: 10, held: 0 });
    expect(await calls(redis, "evalsha")).toBeLessThan(20);
    await sweeper.stop();
  }, 30_000);
});
