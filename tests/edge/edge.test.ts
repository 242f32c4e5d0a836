/**
 * The edge in-process (app.request) against real gateways, cores, workers, Redis, Kafka and
 * PostgreSQL: identity, idempotency, spillover, rate limiting and bad input.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createServer, type Socket } from "node:net";
import { SignJWT } from "jose";
import { idempotencyRecordKey } from "../../edge/middleware/idempotency/index.ts";
import { regionVariable } from "../../shared/config.ts";
import { connectRedis } from "../../shared/redis.ts";
import { config, uniqueName } from "../helpers.ts";
import { createProduct, pooled, startCore, startWorker, waitForOrders, type Child } from "../pipeline/harness.ts";
import { edgeApp, edgeEnv, order, startGateways } from "./harness.ts";

const [home, away] = [config.regions[0]!.id, config.regions[1]!.id];
const children: Child[] = [];
const gateways = startGateways();
const env = edgeEnv(gateways.env);
const app = edgeApp(env);
const redisOf = (id: string) => connectRedis(config.regions.find((r) => r.id === id)!.redisUrl);

async function stockIn(region: string, productId: string) {
  const response = await app.request(`/v1/products/${productId}`);
  const body = (await response.json()) as { regions: Record<string, { available: number }> };
  return body.regions[region]?.available;
}

describe("edge", () => {
  beforeAll(async () => {
    children.push(await startCore(home), await startCore(away), startWorker(home), startWorker(away));
  }, 60_000);
  afterAll(async () => {
    await Promise.all(children.map((c) => c.kill()));
    gateways.stop();
  }, 30_000);

  describe("placing an order", () => {
    test("202 from the nearest region, and the order reaches PostgreSQL", async () => {
      const productId = await createProduct({ units: { [home]: 10, [away]: 10 } });
      const response = await order(app, { user: "ada", key: uniqueName("k"), body: { productId, quantity: 2 }, headers: { "X-Region": home } });
      expect(response.status).toBe(202);
      expect(response.headers.get("x-request-id")).toBeTruthy();
      const body = (await response.json()) as { orderId: string; region: string; originRegion: string; status: string };
      expect(body).toMatchObject({ region: home, originRegion: home, status: "reserved" });
      const [row] = await waitForOrders(productId, [body.orderId], 30_000);
      expect(row).toMatchObject({ id: body.orderId, userId: "ada", quantity: 2, region: home });

      const seen = await app.request(`/v1/orders/${body.orderId}`, { headers: { "X-User-Id": "ada" } });
      expect(await seen.json()).toMatchObject({ orderId: body.orderId, status: "reserved" });
      const stranger = await app.request(`/v1/orders/${body.orderId}`, { headers: { "X-User-Id": "eve" } });
      expect(stranger.status).toBe(404);
    });

    test("the country picks the region: a German buyer is served from eu-west", async () => {
      const productId = await createProduct({ units: { "us-east": 5, "eu-west": 5 } });
      const response = await order(app, { user: "jan", key: uniqueName("k"), body: { productId, quantity: 1 }, headers: { "CF-IPCountry": "DE" } });
      expect(await response.json()).toMatchObject({ region: "eu-west", originRegion: "eu-west" });
    });

    test("cancel returns the units", async () => {
      const productId = await createProduct({ units: { [home]: 4 } });
      const placed = (await (await order(app, { user: "cy", key: uniqueName("k"), body: { productId, quantity: 3 }, headers: { "X-Region": home } })).json()) as { orderId: string };
      expect(await stockIn(home, productId)).toBe(1);
      const cancelled = await app.request(`/v1/orders/${placed.orderId}/cancel`, { method: "POST", headers: { "X-User-Id": "cy" } });
      expect(await cancelled.json()).toMatchObject({ orderId: placed.orderId, status: "cancelled" });
      await Bun.sleep(1_100); // availability is cached for a second
      expect(await stockIn(home, productId)).toBe(4);
    });
  });

  describe("idempotency", () => {
    test("50 concurrent requests with one key: one reservation, one fresh 202, the rest 409 or replays", async () => {
      const productId = await createProduct({ units: { [home]: 100 } });
      const key = uniqueName("same");
      const answers = await Promise.all(
        Array.from({ length: 50 }, async () => {
          const r = await order(app, { user: "bo", key, body: { productId, quantity: 2 }, headers: { "X-Region": home } });
          return { status: r.status, replayed: r.headers.get("idempotent-replayed"), body: (await r.json()) as { orderId?: string } };
        }),
      );
      const fresh = answers.filter((a) => a.status === 202 && a.replayed !== "true");
      expect(fresh).toHaveLength(1);
      expect(answers.every((a) => a.status === 409 || (a.status === 202 && a.body.orderId === fresh[0]!.body.orderId))).toBe(true);
      expect(await stockIn(home, productId)).toBe(98);
    });

    test("the same key with another body is 422, and reserves nothing more", async () => {
      const productId = await createProduct({ units: { [home]: 10 } });
      const key = uniqueName("k");
      expect((await order(app, { user: "di", key, body: { productId, quantity: 1 }, headers: { "X-Region": home } })).status).toBe(202);
      const other = await order(app, { user: "di", key, body: { productId, quantity: 2 }, headers: { "X-Region": home } });
      expect(other.status).toBe(422);
      expect(await other.json()).toMatchObject({ code: "idempotency_key_reused" });
    });

    test("keys are per client: another user's same key is a new order", async () => {
      const productId = await createProduct({ units: { [home]: 10 } });
      const key = uniqueName("k");
      const a = (await (await order(app, { user: "u-a", key, body: { productId, quantity: 1 }, headers: { "X-Region": home } })).json()) as { orderId: string };
      const b = (await (await order(app, { user: "u-b", key, body: { productId, quantity: 1 }, headers: { "X-Region": home } })).json()) as { orderId: string };
      expect(a.orderId).not.toBe(b.orderId);
    });

    test("a replay after an edge restart returns the same order; so does a retry after the edge lost its record", async () => {
      const productId = await createProduct({ units: { [home]: 10 } });
      const key = uniqueName("k");
      const request = { user: "eli", key, body: { productId, quantity: 1 }, headers: { "X-Region": home } };
      const first = (await (await order(app, request)).json()) as { orderId: string };

      const restarted = edgeApp(env);
      const replay = await order(restarted, request);
      expect(replay.headers.get("idempotent-replayed")).toBe("true");
      expect(await replay.json()).toMatchObject({ orderId: first.orderId });

      for (const region of config.regions) {
        const redis = redisOf(region.id);
        await redis.del(idempotencyRecordKey("eli", key));
        redis.disconnect();
      }
      const retry = await order(restarted, request);
      expect(await retry.json()).toMatchObject({ orderId: first.orderId, replayed: true });
      expect(await stockIn(home, productId)).toBe(9);
    });

    test("no key is 400", async () => {
      const response = await order(app, { user: "fay", body: { productId: "x", quantity: 1 } });
      expect(response.status).toBe(400);
      expect(await response.json()).toMatchObject({ code: "idempotency_key_missing" });
    });
  });

  describe("spillover", () => {
    test("sold out in the nearest region: the next region serves, with the origin kept", async () => {
      const productId = await createProduct({ units: { [home]: 1, [away]: 5 } });
      await order(app, { user: "gus", key: uniqueName("k"), body: { productId, quantity: 1 }, headers: { "X-Region": home } });
      const spilled = await order(app, { user: "hal", key: uniqueName("k"), body: { productId, quantity: 2 }, headers: { "X-Region": home } });
      const body = (await spilled.json()) as { orderId: string };
      expect(body).toMatchObject({ region: away, originRegion: home });
      const [row] = await waitForOrders(productId, [body.orderId], 30_000);
      expect(row).toMatchObject({ region: away, originRegion: home });
    });

    test("the nearest region timing out: no spillover, 503 with Retry-After", async () => {
      const sockets: Socket[] = [];
      const blackhole = createServer((s) => void sockets.push(s)).listen(0, "127.0.0.1");
      await new Promise((r) => blackhole.once("listening", r));
      const port = (blackhole.address() as { port: number }).port;
      const stuck = edgeApp({ ...env, [regionVariable("CORE_URL", home)]: `http://127.0.0.1:${port}`, FLUX_GATE_CORE_TIMEOUT_MS: "300" });
      const productId = await createProduct({ units: { [home]: 5, [away]: 5 } });

      const response = await order(stuck, { user: "ivy", key: uniqueName("k"), body: { productId, quantity: 1 }, headers: { "X-Region": home } });
      expect(response.status).toBe(503);
      expect(response.headers.get("retry-after")).toBe("1");
      expect(await stockIn(away, productId)).toBe(5);
      for (const s of sockets) s.destroy();
      blackhole.close();
    });
  });

  describe("rate limiting", () => {
    test("a client over its limit gets 429 with the IETF headers; another client is unaffected", async () => {
      const limited = edgeApp({ ...env, FLUX_GATE_RATE_LIMIT_USER: "3/10s" });
      const productId = await createProduct({ units: { [home]: 100 } });
      const user = uniqueName("greedy");
      const statuses: Response[] = [];
      for (let i = 0; i < 4; i++) statuses.push(await order(limited, { user, key: uniqueName("k"), body: { productId, quantity: 1 }, headers: { "X-Region": home } }));
      expect(statuses.map((r) => r.status)).toEqual([202, 202, 202, 429]);
      expect(statuses[0]!.headers.get("ratelimit-policy")).toBe('"user";q=3;w=10, "ip";q=100000;w=10');
      expect(statuses[1]!.headers.get("ratelimit")).toMatch(/^"user";r=1;t=\d+, "ip";r=\d+;t=\d+$/);
      const refused = statuses[3]!;
      expect(Number(refused.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
      expect(refused.headers.get("ratelimit")).toMatch(/^"user";r=0;t=\d+, "ip";r=\d+;t=\d+$/);
      expect(await refused.json()).toMatchObject({ code: "rate_limited", status: 429 });

      const other = await order(limited, { user: uniqueName("polite"), key: uniqueName("k"), body: { productId, quantity: 1 }, headers: { "X-Region": home } });
      expect(other.status).toBe(202);
    });
  });

  describe("bad input gets the documented error and reserves nothing", () => {
    let productId: string;
    beforeAll(async () => {
      productId = await createProduct({ units: { [home]: 10 } });
    });
    const send = async (init: { body?: string; headers?: Record<string, string> }) =>
      await app.request("/v1/orders", {
        method: "POST",
        headers: { "Content-Type": "application/json", "X-User-Id": "fuzz", "X-Region": home, "Idempotency-Key": uniqueName("k"), ...init.headers },
        body: init.body,
      });
    const cases: [string, (p: string) => Promise<Response>, number, string][] = [
      ["malformed JSON", () => send({ body: "{oops" }), 400, "invalid_request"],
      ["a missing field", (p) => send({ body: JSON.stringify({ productId: p }) }), 400, "invalid_request"],
      ["a user id in the body", (p) => send({ body: JSON.stringify({ productId: p, quantity: 1, userId: "victim" }) }), 400, "invalid_request"],
      ["a product id far too long", () => send({ body: JSON.stringify({ productId: "p".repeat(300), quantity: 1 }) }), 400, "invalid_request"],
      ["a string quantity", (p) => send({ body: JSON.stringify({ productId: p, quantity: "1" }) }), 400, "invalid_request"],
      ["a zero quantity", (p) => send({ body: JSON.stringify({ productId: p, quantity: 0 }) }), 422, "invalid_quantity"],
      ["a huge body", (p) => send({ body: JSON.stringify({ productId: p, quantity: 1, pad: "x".repeat(100_000) }) }), 413, "payload_too_large"],
      ["an Idempotency-Key with spaces", (p) => send({ body: JSON.stringify({ productId: p, quantity: 1 }), headers: { "Idempotency-Key": "a b" } }), 400, "invalid_request"],
      ["a user id that tries to reach into keys", (p) => send({ body: JSON.stringify({ productId: p, quantity: 1 }), headers: { "X-User-Id": "a}b{c d" } }), 401, "unauthenticated"],
      ["no user at all", async (p) => await app.request("/v1/orders", { method: "POST", headers: { "Idempotency-Key": "k" }, body: JSON.stringify({ productId: p, quantity: 1 }) }), 401, "unauthenticated"],
    ];
    test.each(cases)("%s", async (_, attempt, status, code) => {
      const p = productId;
      const response = await attempt(p);
      expect(response.status).toBe(status);
      expect(response.headers.get("content-type")).toBe("application/problem+json");
      expect(await response.json()).toMatchObject({ status, code });
      expect(await stockIn(home, p)).toBe(10);
    });
  });

  describe("JWT identity", () => {
    const secret = "edge-test-jwt-secret-of-enough-length";
    const jwtApp = edgeApp({ ...env, FLUX_GATE_DEV_IDENTITY: undefined, FLUX_GATE_JWT_SECRET: secret });
    const sign = (claims: { sub?: string; exp?: number }, key = secret) => {
      const jwt = new SignJWT(claims).setProtectedHeader({ alg: "HS256" }).setIssuedAt();
      return jwt.sign(new TextEncoder().encode(key));
    };
    const call = (token: string, headers: Record<string, string> = {}) =>
      jwtApp.request(`/v1/orders/${crypto.randomUUID()}`, { headers: { Authorization: `Bearer ${token}`, ...headers } });

    test("a valid token's sub is the user; X-User-Id is ignored without development mode", async () => {
      expect((await call(await sign({ sub: "zoe", exp: Math.floor(Date.now() / 1000) + 60 }))).status).toBe(404);
      const headerOnly = await jwtApp.request(`/v1/orders/${crypto.randomUUID()}`, { headers: { "X-User-Id": "zoe" } });
      expect(headerOnly.status).toBe(401);
    });

    test.each([
      ["expired", async () => sign({ sub: "zoe", exp: Math.floor(Date.now() / 1000) - 10 })],
      ["signed with another key", async () => sign({ sub: "zoe" }, "not-the-secret-not-the-secret-at-all")],
      ["alg none", async () => `${btoa(JSON.stringify({ alg: "none", typ: "JWT" })).replaceAll("=", "")}.${btoa(JSON.stringify({ sub: "zoe" })).replaceAll("=", "")}.`],
      ["without sub", async () => sign({ exp: Math.floor(Date.now() / 1000) + 60 })],
      ["not a JWT", async () => "garbage"],
    ])("a token %s is 401", async (_, token) => {
      const response = await call(await token());
      expect(response.status).toBe(401);
      expect(await response.json()).toMatchObject({ code: "unauthenticated" });
    });
  });

  test("the OpenAPI document describes the public API", async () => {
    const doc = (await (await app.request("/openapi.json")).json()) as { paths: Record<string, unknown> };
    expect(Object.keys(doc.paths).sort()).toEqual(["/v1/orders", "/v1/orders/{id}", "/v1/orders/{id}/cancel", "/v1/products/{id}"]);
  });

  // A big pool is not needed for correctness, only to show the edge keeps up with many buyers.
  test("200 buyers at once each get their own order", async () => {
    const productId = await createProduct({ units: { [home]: 1_000 } });
    const crowd = uniqueName("crowd");
    const answers = await pooled(200, 50, async (i) => {
      const response = await order(app, { user: `${crowd}-${i}`, key: "buy", body: { productId, quantity: 1 }, headers: { "X-Region": home } });
      return (await response.json()) as { orderId: string };
    });
    expect(new Set(answers.map((a) => a.orderId)).size).toBe(200);
    expect(await stockIn(home, productId)).toBe(800);
  });
});
