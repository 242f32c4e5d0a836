/**
 * The retention sweep with a real core, worker, Kafka and PostgreSQL: ended orders leave the
 * region's Redis once PostgreSQL holds them, live ones stay, a retry of a forgotten order gets
 * its outcome and reserves nothing, settled allocation change ids leave too, a kill -9 in the
 * middle of a sweep loses nothing, and `flux-gate verify` stays clean throughout.
 */
import { afterAll, afterEach, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { orderKey, productKeys } from "../../shared/keys.ts";
import { connectRedis } from "../../shared/redis.ts";
import { waitUntil } from "../../stack/process.ts";
import { config, coreOrderPath } from "../support/helpers.ts";
import {
  coreClient,
  createProduct,
  ordersById,
  pooled,
  startCore,
  startWorker,
  testRegion,
  untilHealthy,
  waitForOrders,
  type Child,
} from "../support/harness.ts";

const CLI = join(import.meta.dir, "../../cli/flux-gate.ts");
const region = config.regions[0]!.id;
const redis = connectRedis(config.regions[0]!.redisUrl);
/** A retention short enough for a test; the sweep looks every 100 ms. */
const SHORT_RETENTION = { FLUX_GATE_ORDER_RETENTION_MS: "1000", FLUX_GATE_RETENTION_INTERVAL_MS: "100" };

function verifyClean(productId: string) {
  const result = Bun.spawnSync([process.execPath, CLI, "verify", "--product", productId, "--json", "--settle", "30"], {
    stdin: "ignore",
  });
  expect(result.stdout.toString() && JSON.parse(result.stdout.toString())).toEqual({
    products: 1,
    transfersInFlight: 0,
    drifts: [],
  });
  expect(result.exitCode).toBe(0);
}

const inRedis = (productId: string, orderId: string) =>
  redis.exists(orderKey(region, productId, orderId)).then((n) => n === 1);

describe("the retention sweep", () => {
  const children: Child[] = [];
  afterEach(async () => {
    await Promise.all(children.splice(0).map((c) => c.kill()));
  }, 30_000);
  afterAll(() => redis.disconnect());

  test("ended orders leave Redis once PostgreSQL holds them; live ones stay; a late retry reserves nothing; change ids the ledger settled leave", async () => {
    children.push(await startCore(region, SHORT_RETENTION), startWorker(region));
    await untilHealthy(testRegion(region).workerUrl, `worker-${region}`);
    const productId = await createProduct({ units: { [region]: 50 } });
    const core = coreClient(region);
    const placed = await pooled(30, 10, async (i) => {
      const response = await core.reserve({ userId: `r-${i}`, productId, quantity: 1 });
      expect(response.status).toBe(202);
      return { userId: `r-${i}`, orderId: ((await response.json()) as { orderId: string }).orderId };
    });
    const [confirmed, cancelled, live] = [placed.slice(0, 10), placed.slice(10, 15), placed.slice(15)];
    for (const { orderId } of confirmed)
      expect((await core.call("POST", coreOrderPath(orderId, { productId, action: "confirm" }))).status).toBe(200);
    for (const { orderId } of cancelled)
      expect((await core.call("POST", coreOrderPath(orderId, { productId, action: "cancel" }))).status).toBe(200);

    const ended = [...confirmed, ...cancelled];
    expect(
      await waitUntil(
        async () => (await Promise.all(ended.map((o) => inRedis(productId, o.orderId)))).every((present) => !present),
        30_000,
        100,
      ),
    ).toBe(true);
    for (const { orderId } of live) expect(await inRedis(productId, orderId)).toBe(true);
    expect(await redis.zcard(productKeys(region, productId).ended)).toBe(0);
    // The ledger's transfer (pool → region) is settled: its change id leaves too.
    expect(
      await waitUntil(
        async () => (await redis.hlen(productKeys(region, productId).allocationChanges)) === 0,
        10_000,
        100,
      ),
    ).toBe(true);
    expect(await redis.zcard(productKeys(region, productId).allocationChangeTimes)).toBe(0);

    const stock = await redis.hmget(productKeys(region, productId).product, "available", "held", "sold");
    for (const [orders, status] of [
      [confirmed, "confirmed"],
      [cancelled, "cancelled"],
    ] as const) {
      for (const { userId, orderId } of orders) {
        const retry = await core.reserve({ orderId, userId, productId, quantity: 1 });
        expect(retry.status).toBe(202);
        expect(await retry.json()).toMatchObject({ orderId, status, replayed: true, originRegion: region });
        const seen = await core.call("GET", `/v1/orders/${orderId}`);
        expect(await seen.json()).toMatchObject({ orderId, status, userId });
      }
    }
    expect(
      (await core.call("POST", coreOrderPath(confirmed[0]!.orderId, { productId, action: "confirm" }))).status,
    ).toBe(200);
    expect(
      (await core.call("POST", coreOrderPath(confirmed[0]!.orderId, { productId, action: "cancel" }))).status,
    ).toBe(409);
    expect(await redis.hmget(productKeys(region, productId).product, "available", "held", "sold")).toEqual(stock);
    expect(stock).toEqual(["25", "15", "10"]);
    verifyClean(productId);
  }, 90_000);

  test("a core killed with -9 in the middle of a sweep loses nothing: another finishes it, every retry replays, verify is clean", async () => {
    // The sweep waits (a long retention) until every order is in PostgreSQL; then a core with a
    // short one starts sweeping and is killed while it is under way.
    children.push(await startCore(region), startWorker(region));
    await untilHealthy(testRegion(region).workerUrl, `worker-${region}`);
    const ORDERS = 6_000;
    const productId = await createProduct({
      units: { [region]: ORDERS },
      holdSeconds: 0,
      perUserLimit: ORDERS,
      maxPerOrder: 1,
    });
    const core = coreClient(region);
    const ids = await pooled(ORDERS, 50, async () => {
      const orderId = crypto.randomUUID();
      expect((await core.reserve({ orderId, userId: "sweep-buyer", productId, quantity: 1 })).status).toBe(202);
      return orderId;
    });
    await waitForOrders(productId, ids);
    const ended = productKeys(region, productId).ended;
    expect(await redis.zcard(ended)).toBe(ORDERS);

    await children.shift()!.kill();
    const sweeping = await startCore(region, { ...SHORT_RETENTION, FLUX_GATE_ORDER_RETENTION_MS: "1" });
    expect(await waitUntil(async () => (await redis.zcard(ended)) < ORDERS, 10_000, 5)).toBe(true);
    await sweeping.kill("SIGKILL");
    const left = await redis.zcard(ended);
    expect(left).toBeGreaterThan(0);
    expect(left).toBeLessThan(ORDERS);

    children.unshift(await startCore(region, SHORT_RETENTION));
    expect(await waitUntil(async () => (await redis.zcard(ended)) === 0, 30_000, 100)).toBe(true);
    const retries = await pooled(
      ids.length,
      50,
      async (i) =>
        (await (await core.reserve({ orderId: ids[i]!, userId: "sweep-buyer", productId, quantity: 1 })).json()) as {
          replayed: boolean;
          status: string;
        },
    );
    expect(retries.filter((r) => r.replayed && r.status === "confirmed")).toHaveLength(ORDERS);
    expect(await redis.hmget(productKeys(region, productId).product, "available", "sold")).toEqual([
      "0",
      String(ORDERS),
    ]);
    expect((await ordersById(ids)).filter((o) => o.status === "confirmed")).toHaveLength(ORDERS);
    verifyClean(productId);
  }, 180_000);
});
