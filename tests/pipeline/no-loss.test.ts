/**
 * Every accepted order reaches PostgreSQL exactly once, whatever is killed on the way:
 * the worker, Kafka, or the core between its outbox write and the relay.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { inArray } from "drizzle-orm";
import { orderEvents } from "../../db/schema.ts";
import { RegionStore } from "../../core/reservation/store.ts";
import { orderKey, productKeys } from "../../shared/keys.ts";
import { connectRedis } from "../../shared/redis.ts";
import { kafkaServices } from "../../stack/services/kafka.ts";
import { config } from "../support/helpers.ts";
import { waitUntil } from "../../stack/process.ts";
import {
  coreClient,
  createProduct,
  database,
  ordersOf,
  pooled,
  startCore,
  startWorker,
  waitForOrders,
  type Child,
} from "../support/harness.ts";

const region = config.regions[0]!.id;
let children: Child[] = [];
afterEach(async () => {
  await Promise.all(children.map((c) => c.kill()));
  children = [];
}, 30_000);

interface Attempt {
  orderId: string;
  userId: string;
}

/**
 * Sends `count` reservations (one unit each, distinct users) and calls `fault` once, when
 * `faultAt` have been accepted. Returns the accepted order ids; a request that got no answer
 * (its connection died with the core) goes to `unanswered`, for a retry with the same id.
 */
async function reserveThrough(
  productId: string,
  count: number,
  faultAt: number,
  fault: (acceptedNow: () => number) => Promise<void>,
  unanswered: Attempt[] = [],
): Promise<string[]> {
  const core = coreClient(region);
  const accepted: string[] = [];
  let faulted: Promise<void> | undefined;
  await pooled(count, 16, async () => {
    const attempt = { orderId: crypto.randomUUID(), userId: `buyer-${crypto.randomUUID()}` };
    const response = await core.reserve({ ...attempt, productId, quantity: 1 }).catch(() => undefined);
    if (response?.status === 202) accepted.push(attempt.orderId);
    else if (!response || response.status >= 500) unanswered.push(attempt);
    if (accepted.length >= faultAt) faulted ??= fault(() => accepted.length);
  });
  await faulted;
  return accepted;
}

async function expectExactlyOnceInPostgres(productId: string, accepted: string[]) {
  const rows = await waitForOrders(productId, accepted, 90_000);
  expect(rows.map((r) => r.id).sort()).toEqual([...accepted].sort());
  const events = await database.db.select().from(orderEvents).where(inArray(orderEvents.orderId, accepted));
  expect(events.filter((e) => e.type === "reserved")).toHaveLength(accepted.length);
}

describe("no accepted order is lost", () => {
  test("kill -9 the worker mid-stream, then restart it", async () => {
    children.push(await startCore(region), startWorker(region));
    const productId = await createProduct({ units: { [region]: 5_000 } });
    let waitingAtKill = 0;
    const accepted = await reserveThrough(productId, 3_000, 1_000, async (acceptedNow) => {
      // Mid-stream: the worker has joined its group and is writing this product's orders.
      await waitUntil(async () => (await ordersOf(productId)).length >= 100, 30_000, 50);
      await children[1]!.kill("SIGKILL");
      await Bun.sleep(300);
      // With no worker, what was accepted meanwhile waits in Kafka: the new one must catch up.
      const stored = (await ordersOf(productId)).length;
      waitingAtKill = acceptedNow() - stored;
      children.push(startWorker(region));
    });
    expect(accepted).toHaveLength(3_000);
    // The kill left accepted orders that PostgreSQL did not hold yet.
    expect(waitingAtKill).toBeGreaterThan(0);
    await expectExactlyOnceInPostgres(productId, accepted);
  }, 120_000);

  test.if(!config.kafka.external)(
    "stop Kafka while reservations continue, then start it again",
    async () => {
      children.push(await startCore(region), startWorker(region));
      const productId = await createProduct({ units: { [region]: 5_000 } });
      const kafka = kafkaServices(config)[0]!;
      const duringOutage: string[] = [];
      const accepted = await reserveThrough(productId, 3_000, 500, async () => {
        await kafka.stop();
        try {
          // Reservations go on while Kafka is down: the outbox holds them.
          duringOutage.push(...(await reserveThrough(productId, 500, Number.POSITIVE_INFINITY, async () => {})));
          // A worker that starts during the outage waits for Kafka instead of dying.
          await children[1]!.kill("SIGKILL");
          children.push(startWorker(region));
          await Bun.sleep(1_000);
        } finally {
          await kafka.start(() => {});
        }
      });
      expect(duringOutage).toHaveLength(500);
      expect(accepted).toHaveLength(3_000);
      await expectExactlyOnceInPostgres(productId, [...accepted, ...duringOutage]);
    },
    180_000,
  );

  test("a core stopped with SIGTERM under load finishes its requests and empties its outbox first", async () => {
    children.push(startWorker(region));
    const core = await startCore(region);
    const productId = await createProduct({ units: { [region]: 5_000 } });
    const accepted = await reserveThrough(productId, 2_000, 1_000, () => core.kill("SIGTERM"));
    expect(accepted.length).toBeGreaterThanOrEqual(1_000);

    const redis = connectRedis(config.regions[0]!.redisUrl);
    expect(await redis.xlen(productKeys(region, productId).outbox)).toBe(0);
    redis.disconnect();
    await expectExactlyOnceInPostgres(productId, accepted);
  }, 120_000);

  test("kill -9 the core between its outbox write and the relay, then restart it", async () => {
    children.push(startWorker(region));
    // A core whose relay cannot reach Kafka: every accepted order stops in the outbox.
    const stranded = await startCore(region, { KAFKA_BROKERS: "127.0.0.1:1" });
    children.push(stranded);
    const productId = await createProduct({ units: { [region]: 5_000 } });
    const accepted = await reserveThrough(productId, 1_000, Number.POSITIVE_INFINITY, async () => {});
    expect(accepted).toHaveLength(1_000);
    await stranded.kill("SIGKILL");

    const redis = connectRedis(config.regions[0]!.redisUrl);
    expect(await redis.xlen(productKeys(region, productId).outbox)).toBe(1_000);
    redis.disconnect();

    children.push(await startCore(region));
    await expectExactlyOnceInPostgres(productId, accepted);
  }, 120_000);

  test("kill -9 the core mid-stream, then restart it: a buyer who retries with the same order id gets one order", async () => {
    children.push(startWorker(region));
    let core = await startCore(region);
    children.push(core);
    const productId = await createProduct({ units: { [region]: 5_000 } });
    const unanswered: Attempt[] = [];
    const accepted = await reserveThrough(
      productId,
      3_000,
      1_500,
      async () => {
        await core.kill("SIGKILL");
        core = await startCore(region);
        children.push(core);
      },
      unanswered,
    );
    expect(accepted.length).toBeGreaterThanOrEqual(1_500);
    // The kill cut requests off mid-flight. Their buyers retry with the same order id: each
    // gets a 202, the first outcome (replayed) exactly when the dead core had reserved it.
    expect(unanswered.length).toBeGreaterThan(0);
    const redis = connectRedis(config.regions[0]!.redisUrl);
    // Whether the kill caught a request between its reservation and its answer is chance (in
    // most runs a few): make sure of one, reserved through the same script, never answered.
    const reservedUnanswered = { orderId: crypto.randomUUID(), userId: `buyer-${crypto.randomUUID()}` };
    expect(
      await new RegionStore(redis, region, config.core.outboxLimit).reserve({
        ...reservedUnanswered,
        productId,
        quantity: 1,
        originRegion: region,
      }),
    ).toMatchObject({ ok: true });
    unanswered.push(reservedUnanswered);
    let replays = 0;
    for (const attempt of unanswered) {
      const reservedBefore = (await redis.exists(orderKey(region, productId, attempt.orderId))) === 1;
      const retry = await coreClient(region).reserve({ ...attempt, productId, quantity: 1 });
      expect(retry.status).toBe(202);
      const { replayed } = (await retry.json()) as { replayed: boolean };
      expect(replayed).toBe(reservedBefore);
      if (replayed) replays++;
      accepted.push(attempt.orderId);
    }
    redis.disconnect();
    expect(replays).toBeGreaterThan(0);
    await expectExactlyOnceInPostgres(productId, accepted);
  }, 120_000);
});
