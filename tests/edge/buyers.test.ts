/**
 * Everything that belongs to a buyer lives in the buyer's home region, and the edge keeps its
 * promises across regions: one per-user limit for all regions, one intent reserved in one region
 * only, cancels sent where the order is, keys that never collide, a stalled home region that
 * costs only its own buyers, allowance back after cancel and expiry, and a kill -9 of the edge
 * between the core's answer and the completion. Real cores, workers, Redis, Kafka, PostgreSQL.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { deriveOrderId } from "../../edge/order-id.ts";
import { restHomeRedis } from "../../edge/home/rest.ts";
import { regionById as configuredRegion, regionVariable } from "../../shared/config.ts";
import { rendezvousHome } from "../../shared/home-region.ts";
import { buyerKeys } from "../../shared/keys.ts";
import { connectRedis } from "../../shared/redis.ts";
import { waitUntil } from "../../stack/process.ts";
import { verify } from "../../cli/verify/verify.ts";
import { config, uniqueName } from "../support/helpers.ts";
import {
  createProduct,
  ordersOf,
  testLog,
  testRegion,
  waitForOrders,
  withCoresAndWorkers,
} from "../support/harness.ts";
import {
  blackhole,
  clientToken,
  edgeApp,
  edgeEnv,
  inProcess,
  order,
  startRedisRestAdapters,
  stockIn,
} from "../support/edge.ts";

const regionById = (id: string) => configuredRegion(config, id);

const regionIds = config.regions.map((r) => r.id);
const [east, west] = regionIds as [string, string];
const restAdapters = startRedisRestAdapters();
const env = edgeEnv(restAdapters.env);
const send = inProcess(edgeApp(env));

/** A fresh user id whose home is `region`. */
function userHomedIn(region: string, prefix = "buyer"): string {
  for (;;) {
    const user = uniqueName(prefix);
    if (rendezvousHome(user, regionIds) === region) return user;
  }
}

const placed = async (response: Response) => ({
  status: response.status,
  replayed: response.headers.get("idempotent-replayed"),
  body: (await response.json()) as Record<string, unknown>,
});

async function expectClean(productId: string) {
  const result = await verify(config, { productIds: [productId], settleMs: 30_000 });
  expect(result.drifts).toEqual([]);
}

describe("buyers' state in their home region", () => {
  withCoresAndWorkers(regionIds);
  // The allowance consumers must have joined their groups before expiries are counted on.
  beforeAll(async () => {
    for (const id of regionIds) {
      const ready = await waitUntil(
        () =>
          fetch(`${testRegion(id).workerUrl}/ready`).then(
            (r) => r.ok,
            () => false,
          ),
        60_000,
        250,
      );
      if (!ready) throw new Error(`worker ${id} not ready (see ${testLog(`worker-${id}`)})`);
    }
  }, 70_000);
  afterAll(() => restAdapters.stop());

  test("the per-user limit holds across regions: X-Region, a change of country and spillover", async () => {
    const productId = await createProduct({ units: { [east]: 2, [west]: 10 }, perUserLimit: 3 });
    const user = uniqueName("limit");
    const buy = (quantity: number, headers: Record<string, string>) =>
      order(send, { user, key: uniqueName("k"), body: { productId, quantity }, headers });

    expect((await placed(await buy(2, { "X-Region": east }))).body).toMatchObject({ region: east });
    const elsewhere = await placed(await buy(2, { "X-Region": west }));
    expect(elsewhere).toMatchObject({ status: 409, body: { code: "user_limit_exceeded" } });
    expect((await placed(await buy(2, { "CF-IPCountry": "DE" }))).body).toMatchObject({ code: "user_limit_exceeded" });
    // us-east is sold out now: the last unit the limit allows spills over to eu-west.
    expect((await placed(await buy(1, { "X-Region": east }))).body).toMatchObject({ region: west, originRegion: east });
    expect((await placed(await buy(1, { "X-Region": west }))).body).toMatchObject({ code: "user_limit_exceeded" });

    await waitUntil(async () => (await ordersOf(productId)).length === 2, 30_000, 200);
    expect((await ordersOf(productId)).reduce((n, r) => n + r.quantity, 0)).toBe(3);
    await expectClean(productId);
  });

  test("one intent is never reserved in two regions: a retry after a 503 asks the region tried first", async () => {
    const productId = await createProduct({ units: { [east]: 10, [west]: 10 }, perUserLimit: 3 });
    const user = userHomedIn(west, "paused");
    const key = uniqueName("k");
    const pauser = connectRedis(regionById(east).redisUrl);
    await pauser.call("CLIENT", "PAUSE", "2500", "WRITE");
    try {
      const first = await placed(
        await order(send, { user, key, body: { productId, quantity: 1 }, headers: { "X-Region": east } }),
      );
      expect(first).toMatchObject({ status: 503, body: { code: "unavailable" } });
      // The buyer retries from elsewhere; the edge asks us-east again until it answers.
      let retry = await placed(
        await order(send, { user, key, body: { productId, quantity: 1 }, headers: { "X-Region": west } }),
      );
      for (let i = 0; i < 20 && retry.status !== 202; i++) {
        await Bun.sleep(250);
        retry = await placed(
          await order(send, { user, key, body: { productId, quantity: 1 }, headers: { "X-Region": west } }),
        );
      }
      expect(retry).toMatchObject({
        status: 202,
        body: { region: east, orderId: deriveOrderId(config.edge.orderIdSecret, user, key) },
      });
    } finally {
      await pauser.call("CLIENT", "UNPAUSE");
      pauser.disconnect();
    }
    expect(await stockIn(send, west, productId)).toBe(10);
    expect(await stockIn(send, east, productId)).toBe(9);
    await waitUntil(async () => (await ordersOf(productId)).length === 1, 30_000, 200);
    expect(await ordersOf(productId)).toMatchObject([{ region: east, userId: user }]);
    await expectClean(productId);
  }, 30_000);

  test("a cancel after spillover goes to the region that serves the order, even when the home region forgot it", async () => {
    const productId = await createProduct({ units: { [east]: 1, [west]: 5 } });
    await order(send, {
      user: uniqueName("first"),
      key: uniqueName("k"),
      body: { productId, quantity: 1 },
      headers: { "X-Region": east },
    });
    const user = uniqueName("spilled");
    const orders = [];
    for (let i = 0; i < 2; i++) {
      const { body } = await placed(
        await order(send, {
          user,
          key: uniqueName("k"),
          body: { productId, quantity: 1 },
          headers: { "X-Region": east },
        }),
      );
      expect(body).toMatchObject({ region: west, originRegion: east });
      orders.push(String(body.orderId));
    }
    await waitForOrders(productId, orders, 30_000);
    const cancel = (id: string) =>
      send(`/v1/orders/${id}/cancel`, { method: "POST", headers: { "X-User-Id": user, "X-Region": east } });

    expect(await placed(await cancel(orders[0]!))).toMatchObject({
      status: 200,
      body: { status: "cancelled", region: west },
    });
    // Without the home region's note, us-east's answer (from PostgreSQL) names eu-west, and eu-west cancels.
    const home = connectRedis(regionById(rendezvousHome(user, regionIds)).redisUrl);
    await home.del(buyerKeys(user).orders);
    home.disconnect();
    expect(await placed(await cancel(orders[1]!))).toMatchObject({
      status: 200,
      body: { status: "cancelled", region: west },
    });
    expect(await stockIn(send, west, productId)).toBe(5);
  });

  test("a user id and a key cannot reach another buyer's record", async () => {
    const productId = await createProduct({ units: { [east]: 10 } });
    // The same text once joined: "alice" + "x:<n>" and "alice:x" + "<n>".
    const key = uniqueName("1");
    const a = await placed(
      await order(send, {
        user: "alice",
        key: `x:${key}`,
        body: { productId, quantity: 1 },
        headers: { "X-Region": east },
      }),
    );
    const b = await placed(
      await order(send, { user: "alice:x", key, body: { productId, quantity: 1 }, headers: { "X-Region": east } }),
    );
    expect([a.status, b.status]).toEqual([202, 202]);
    expect(b.replayed).toBeNull();
    expect(b.body.orderId).not.toBe(a.body.orderId);
  });

  describe("a home region that does not answer costs its own buyers a fast 503 (admission fails closed, the rate limit open), and nobody else anything", () => {
    const cases = [
      [
        "RESP (Bun, Deno)",
        (port: number) => ({ [regionVariable("REDIS_URL", west)]: `redis://127.0.0.1:${port}` }),
        undefined,
      ],
      [
        "REST (Workers)",
        (port: number) => ({ [regionVariable("REDIS_REST_URL", west)]: `http://127.0.0.1:${port}` }),
        restHomeRedis,
      ],
    ] as const;
    test.each(cases)("%s", async (_, override, connect) => {
      const stalled = await blackhole();
      try {
        const stuck = inProcess(edgeApp({ ...env, ...override(stalled.port) }, { redis: connect }));
        const productId = await createProduct({ units: { [east]: 10, [west]: 10 } });
        const timed = async (user: string) => {
          const t0 = performance.now();
          const answer = await placed(
            await order(stuck, {
              user,
              key: uniqueName("k"),
              body: { productId, quantity: 1 },
              headers: { "X-Region": east },
            }),
          );
          return { ...answer, ms: performance.now() - t0 };
        };
        const [homedWest, homedEast] = await Promise.all([timed(userHomedIn(west)), timed(userHomedIn(east))]);
        expect(homedWest).toMatchObject({ status: 503, body: { code: "unavailable" } });
        expect(homedWest.ms).toBeLessThan(1_000);
        expect(homedEast).toMatchObject({ status: 202, body: { region: east } });
        expect(await stockIn(send, east, productId)).toBe(9);
        // The per-IP limit counts in the IP's home region: stalled, it lets the request through.
        let ip = "";
        for (let i = 1; rendezvousHome(ip, regionIds) !== west || !ip; i++) ip = `198.51.100.${i}`;
        const t0 = performance.now();
        const availability = await stuck(`/v1/products/${productId}`, { headers: { "X-Forwarded-For": ip } });
        expect(availability.status).toBe(200);
        expect(performance.now() - t0).toBeLessThan(1_000);
      } finally {
        stalled.close();
      }
    });
  });

  test("a paused region costs only its own buyers: 200 homed in us-east and served there keep their 202s and latency; eu-west's get a fast 503", async () => {
    const productId = await createProduct({ units: { [east]: 1_000 }, perUserLimit: 10 });
    // Ids the hash homes in eu-west: only X-Home-Region (the identity's word) homes them in us-east.
    const buyers = Array.from({ length: 200 }, () => userHomedIn(west, "homed-east"));
    const buy = async (user: string, home: string) => {
      const t0 = performance.now();
      const answer = await order(send, {
        user,
        key: uniqueName("k"),
        body: { productId, quantity: 1 },
        headers: { "X-Region": east, "X-Home-Region": home },
      });
      return {
        status: answer.status,
        code: ((await answer.json()) as { code?: string }).code,
        ms: performance.now() - t0,
      };
    };
    const all = (home: string, users: string[]) => Promise.all(users.map((u) => buy(u, home)));
    const median = (runs: { ms: number }[]) => runs.map((r) => r.ms).sort((a, b) => a - b)[runs.length >> 1]!;

    const usual = await all(east, buyers);
    expect(usual.filter((r) => r.status !== 202)).toEqual([]);
    const pauser = connectRedis(regionById(west).redisUrl);
    await pauser.call("CLIENT", "PAUSE", "3000", "WRITE");
    try {
      // Ids the hash homes in us-east, homed by their word in the paused region.
      const homedWest = Array.from({ length: 5 }, () => userHomedIn(east, "homed-west"));
      const [paused, stalled] = await Promise.all([all(east, buyers), all(west, homedWest)]);
      expect(paused.filter((r) => r.status !== 202)).toEqual([]);
      // Their usual latency: no wait on eu-west's deadline (500 ms) in it.
      expect(median(paused)).toBeLessThan(2 * median(usual) + 100);
      expect(stalled.map((r) => [r.status, r.code])).toEqual(homedWest.map(() => [503, "unavailable"]));
      for (const r of stalled) expect(r.ms).toBeLessThan(1_500);
    } finally {
      await pauser.call("CLIENT", "UNPAUSE");
      pauser.disconnect();
    }
    expect(await stockIn(send, east, productId)).toBe(600);
  }, 30_000);

  test("a cancel through the edge gives the allowance back at once", async () => {
    const productId = await createProduct({ units: { [east]: 10 }, perUserLimit: 1 });
    const user = uniqueName("canceller");
    const buy = () =>
      order(send, { user, key: uniqueName("k"), body: { productId, quantity: 1 }, headers: { "X-Region": east } });
    const first = await placed(await buy());
    expect((await placed(await buy())).body).toMatchObject({ code: "user_limit_exceeded" });
    const cancelled = await send(`/v1/orders/${first.body.orderId}/cancel`, {
      method: "POST",
      headers: { "X-User-Id": user },
    });
    expect(cancelled.status).toBe(200);
    expect(await placed(await buy())).toMatchObject({ status: 202 });
    expect((await placed(await buy())).body).toMatchObject({ code: "user_limit_exceeded" });
  });

  test("an expired hold gives the allowance back from the order events, within 5 s, and never more than the limit", async () => {
    const productId = await createProduct({ units: { [east]: 10, [west]: 10 }, perUserLimit: 1, holdSeconds: 1 });
    // A buyer homed in eu-west ordering in us-east: the expiry travels from us-east's topic to eu-west's consumer.
    const user = userHomedIn(west, "expiring");
    const buy = () =>
      order(send, { user, key: uniqueName("k"), body: { productId, quantity: 1 }, headers: { "X-Region": east } });
    const first = await placed(await buy());
    expect(first.status).toBe(202);
    const expiresAt = Date.parse(String(first.body.expiresAt));
    let again = await placed(await buy());
    while (again.status !== 202 && Date.now() < expiresAt + 5_000) {
      await Bun.sleep(200);
      again = await placed(await buy());
    }
    expect(again.status).toBe(202);
    expect(Date.now() - expiresAt).toBeLessThan(5_000);
    expect((await placed(await buy())).body).toMatchObject({ code: "user_limit_exceeded" });
  }, 15_000);

  test("an expired hold gives the allowance back in the home its buyer's token claims, not the hash's", async () => {
    const secret = "buyers-test-jwt-secret-of-enough-length";
    const jwtSend = inProcess(edgeApp({ ...env, FLUX_GATE_DEV_IDENTITY: undefined, FLUX_GATE_JWT_SECRET: secret }));
    const productId = await createProduct({ units: { [east]: 10 }, perUserLimit: 1, holdSeconds: 1 });
    // Hashed to us-east, claimed by eu-west: the expiry in us-east's topic must reach eu-west's consumer.
    const user = userHomedIn(east, "claim-expiring");
    const token = await clientToken(secret, { sub: user, home_region: west });
    const buy = () =>
      order(jwtSend, {
        user,
        key: uniqueName("k"),
        body: { productId, quantity: 1 },
        headers: { "X-Region": east, Authorization: `Bearer ${token}` },
      });
    const first = await placed(await buy());
    expect(first.status).toBe(202);
    const allowance = buyerKeys(user).allowance(productId);
    const claimed = connectRedis(regionById(west).redisUrl);
    try {
      expect(await claimed.hget(allowance, String(first.body.orderId))).toBe("1");
      const expiresAt = Date.parse(String(first.body.expiresAt));
      let again = await placed(await buy());
      while (again.status !== 202 && Date.now() < expiresAt + 5_000) {
        await Bun.sleep(200);
        again = await placed(await buy());
      }
      expect(again.status).toBe(202);
      expect(Date.now() - expiresAt).toBeLessThan(5_000);
      // The expired order's entry left the claimed home's allowance; the new one took its place.
      expect(await claimed.hkeys(allowance)).toEqual([String(again.body.orderId)]);
      expect((await placed(await buy())).body).toMatchObject({ code: "user_limit_exceeded" });
    } finally {
      claimed.disconnect();
    }
  }, 15_000);

  test("an edge killed -9 between the core's answer and the completion: a retry gets the same order", async () => {
    const productId = await createProduct({ units: { [east]: 10 } });
    const user = uniqueName("crash");
    const key = uniqueName("k");
    const port = 18480;
    const doomed = Bun.spawn([process.execPath, join(import.meta.dir, "../../edge/entry/bun.ts")], {
      env: {
        ...env,
        FLUX_GATE_EDGE_PORT: String(port),
        FLUX_GATE_EDGE_METRICS_PORT: String(port + 100),
        FLUX_GATE_TEST_EDGE_HALT: "core-answered",
      } as Record<string, string>,
      stdout: "ignore",
      stderr: "ignore",
    });
    await waitUntil(
      () =>
        fetch(`http://127.0.0.1:${port}/health`).then(
          (r) => r.ok,
          () => false,
        ),
      15_000,
      100,
    );
    const orderId = deriveOrderId(config.edge.orderIdSecret, user, key);
    void order((path, init) => fetch(`http://127.0.0.1:${port}${path}`, init), {
      user,
      key,
      body: { productId, quantity: 1 },
      headers: { "X-Region": east },
    }).catch(() => {});
    // The core has reserved it; the edge sits between its answer and the completion.
    expect(await waitUntil(async () => (await stockIn(send, east, productId)) === 9, 10_000, 50)).toBe(true);
    doomed.kill(9);
    await doomed.exited;

    const retryAt = performance.now();
    let retry = await placed(
      await order(send, { user, key, body: { productId, quantity: 1 }, headers: { "X-Region": east } }),
    );
    // Until the dead request's lease runs out, the key is in flight.
    while (retry.status === 409 && performance.now() - retryAt < 15_000) {
      expect(retry.body).toMatchObject({ code: "idempotency_key_in_use" });
      await Bun.sleep(500);
      retry = await placed(
        await order(send, { user, key, body: { productId, quantity: 1 }, headers: { "X-Region": east } }),
      );
    }
    expect(retry).toMatchObject({ status: 202, body: { orderId, region: east, replayed: true } });
    expect(await stockIn(send, east, productId)).toBe(9);
    await waitForOrders(productId, [orderId], 30_000);
    expect(await ordersOf(productId)).toHaveLength(1);
  }, 40_000);
});
