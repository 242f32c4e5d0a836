/**
 * The edge in-process (app.request) against real REST adapters, cores, workers, Redis, Kafka and
 * PostgreSQL: the runtime contract, then what needs a configuration of its own (timeouts,
 * rate limits, JWTs, an edge restart).
 */
import { afterAll, describe, expect, test } from "bun:test";
import { SignJWT, exportJWK, generateKeyPair } from "jose";
import { regionVariable } from "../../shared/config.ts";
import { buyerKeys } from "../../shared/keys.ts";
import { rendezvousHome } from "../../shared/home-region.ts";
import { regionById } from "../../shared/config.ts";
import { waitUntil } from "../../stack/process.ts";
import { connectRedis } from "../../shared/redis.ts";
import { config, uniqueName } from "../support/helpers.ts";
import {
  coreClient,
  createProduct,
  pooled,
  testRegion,
  waitForOrders,
  withCoresAndWorkers,
} from "../support/harness.ts";

const configuredRegion = (id: string) => regionById(config, id);
import { edgeContract } from "./contract.ts";
import { blackhole, edgeApp, edgeEnv, inProcess, order, startRedisRestAdapters, stockIn } from "../support/edge.ts";

const [home, away] = [config.regions[0]!.id, config.regions[1]!.id];
const restAdapters = startRedisRestAdapters();
const env = edgeEnv(restAdapters.env);
const send = inProcess(edgeApp(env));

// Bun runs a file's top-level afterAll early when the file also has describe blocks: keep
// the hooks inside one describe.
describe("edge, in-process", () => {
  withCoresAndWorkers([home, away]);
  afterAll(() => restAdapters.stop());

  edgeContract(send);

  test("a replay after an edge restart returns the same order; so does a retry after the edge lost its record", async () => {
    const productId = await createProduct({ units: { [home]: 10 } });
    const key = uniqueName("k");
    const request = { user: "eli", key, body: { productId, quantity: 1 }, headers: { "X-Region": home } };
    const first = (await (await order(send, request)).json()) as { orderId: string };

    const restarted = inProcess(edgeApp(env));
    const replay = await order(restarted, request);
    expect(replay.headers.get("idempotent-replayed")).toBe("true");
    expect(await replay.json()).toMatchObject({ orderId: first.orderId });

    for (const region of config.regions) {
      const redis = connectRedis(region.redisUrl);
      await redis.del(buyerKeys("eli").idempotency(key));
      redis.disconnect();
    }
    const retry = await order(restarted, request);
    expect(await retry.json()).toMatchObject({ orderId: first.orderId, replayed: true });
    expect(await stockIn(send, home, productId)).toBe(9);
  });

  test("the nearest region timing out: no spillover, 503 with Retry-After", async () => {
    const stalled = await blackhole();
    const stuck = inProcess(
      edgeApp({
        ...env,
        [regionVariable("CORE_URL", home)]: `http://127.0.0.1:${stalled.port}`,
        FLUX_GATE_CORE_TIMEOUT_MS: "300",
      }),
    );
    const productId = await createProduct({ units: { [home]: 5, [away]: 5 } });

    const t0 = performance.now();
    const response = await order(stuck, {
      user: "ivy",
      key: uniqueName("k"),
      body: { productId, quantity: 1 },
      headers: { "X-Region": home },
    });
    // The deadline is 300 ms; what is more is the admission round trip and a busy machine.
    expect(performance.now() - t0).toBeLessThan(1_000);
    expect(response.status).toBe(503);
    expect(response.headers.get("retry-after")).toBe("1");
    expect(await response.json()).toMatchObject({ code: "unavailable" });
    expect(await stockIn(send, away, productId)).toBe(5);
    stalled.close();
  });

  test("a second request with a key whose first is still at the core gets 409 with Retry-After; then the first's answer", async () => {
    // A core that takes 800 ms to answer: the first request is still in flight when the second comes.
    const slow = Bun.serve({
      port: 0,
      hostname: "127.0.0.1",
      async fetch(request) {
        await Bun.sleep(800);
        const url = new URL(request.url);
        return fetch(testRegion(home).coreUrl + url.pathname + url.search, {
          method: request.method,
          headers: request.headers,
          body: request.method === "GET" ? undefined : await request.text(),
        });
      },
    });
    try {
      const slowEdge = inProcess(
        edgeApp({ ...env, [regionVariable("CORE_URL", home)]: `http://127.0.0.1:${slow.port}` }),
      );
      const productId = await createProduct({ units: { [home]: 10 } });
      const request = {
        user: uniqueName("patient"),
        key: uniqueName("k"),
        body: { productId, quantity: 1 },
        headers: { "X-Region": home },
      };
      const first = order(slowEdge, request);
      await Bun.sleep(200);
      const second = await order(slowEdge, request);
      expect(second.status).toBe(409);
      expect(Number(second.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
      expect(await second.json()).toMatchObject({ code: "idempotency_key_in_use" });
      const firstBody = (await (await first).json()) as { orderId: string };
      let third = await order(slowEdge, request);
      // The completion follows the answer: until it lands the key may still read as in flight.
      for (let i = 0; i < 20 && third.status === 409; i++) {
        await Bun.sleep(50);
        third = await order(slowEdge, request);
      }
      expect(third.headers.get("idempotent-replayed")).toBe("true");
      expect(await third.json()).toMatchObject({ orderId: firstBody.orderId });
      expect(await stockIn(send, home, productId)).toBe(9);
    } finally {
      slow.stop(true);
    }
  });

  describe("only a definitive none-left moves an order to another region", () => {
    // A core whose every reservation gets one answer (a problem as a core writes it, with the
    // status given); what it is asked otherwise it passes on.
    const cannedCore = (status: number, code: string) =>
      Bun.serve({
        port: 0,
        hostname: "127.0.0.1",
        async fetch(request) {
          const url = new URL(request.url);
          if (url.pathname === "/v1/reservations")
            return Response.json({ type: `urn:flux-gate:problem:${code}`, title: code, status, code }, { status });
          return fetch(testRegion(home).coreUrl + url.pathname, { method: request.method, headers: request.headers });
        },
      });
    // A status the order route does not declare (a 500 from a broken core or a proxy) reaches
    // the buyer as the 503 it means: retry with the same key.
    test.each([
      [409, "user_limit_exceeded", 409, "user_limit_exceeded"],
      [409, "sale_paused", 409, "sale_paused"],
      [503, "overloaded", 503, "overloaded"],
      [500, "internal", 503, "unavailable"],
    ])(
      "the nearest region answering %d %s: the buyer gets %d %s, the next region keeps its stock",
      async (status, code, answered, answeredCode) => {
        const core = cannedCore(status, code);
        try {
          const edgeWith = inProcess(
            edgeApp({ ...env, [regionVariable("CORE_URL", home)]: `http://127.0.0.1:${core.port}` }),
          );
          const productId = await createProduct({ units: { [home]: 5, [away]: 5 } });
          const response = await order(edgeWith, {
            user: uniqueName("stay"),
            key: uniqueName("k"),
            body: { productId, quantity: 1 },
            headers: { "X-Region": home },
          });
          expect(response.status).toBe(answered);
          expect(await response.json()).toMatchObject({ code: answeredCode });
          expect(await stockIn(send, away, productId)).toBe(5);
        } finally {
          core.stop(true);
        }
      },
    );
  });

  test("availability is cached for its stated second, then read again", async () => {
    const productId = await createProduct({ units: { [home]: 5 } });
    const first = await send(`/v1/products/${productId}`);
    expect(first.headers.get("cache-control")).toBe("public, max-age=1");
    expect(((await first.json()) as { available: number }).available).toBe(5);
    expect((await coreClient(home).reserve({ userId: uniqueName("direct"), productId, quantity: 1 })).status).toBe(202);
    // Within the second the first answer stands, though the region has one unit less.
    expect(((await (await send(`/v1/products/${productId}`)).json()) as { available: number }).available).toBe(5);
    await Bun.sleep(1_050);
    expect(((await (await send(`/v1/products/${productId}`)).json()) as { available: number }).available).toBe(4);
  });

  test("a 503 is not stored under the key: a retry asks again and gets the order, which the key then keeps for a day", async () => {
    const stalled = await blackhole();
    const stuck = inProcess(
      edgeApp({
        ...env,
        [regionVariable("CORE_URL", home)]: `http://127.0.0.1:${stalled.port}`,
        FLUX_GATE_CORE_TIMEOUT_MS: "300",
      }),
    );
    // On sale in both regions: the stuck edge learns the sale's terms from the other one.
    const productId = await createProduct({ units: { [home]: 5, [away]: 5 } });
    const user = uniqueName("retrier");
    const key = uniqueName("k");
    const request = { user, key, body: { productId, quantity: 1 }, headers: { "X-Region": home } };
    expect((await order(stuck, request)).status).toBe(503);
    stalled.close();

    const record = connectRedis(
      configuredRegion(
        rendezvousHome(
          user,
          config.regions.map((r) => r.id),
        ),
      ).redisUrl,
    );
    const recordKey = buyerKeys(user).idempotency(key);
    await waitUntil(async () => (await record.hget(recordKey, "lease")) === "0", 5_000, 20);
    expect(await record.hget(recordKey, "state")).toBe("pending");
    const retry = await order(send, request);
    expect(retry.status).toBe(202);
    expect(retry.headers.get("idempotent-replayed")).toBeNull();
    await waitUntil(async () => (await record.hget(recordKey, "state")) === "done", 5_000, 20);
    expect(await record.ttl(recordKey)).toBeGreaterThan(86_000);
    record.disconnect();
  });

  test("a client over its limit gets 429 with the IETF headers; another client is unaffected", async () => {
    const limited = inProcess(edgeApp({ ...env, FLUX_GATE_RATE_LIMIT_USER: "3/10s" }));
    const productId = await createProduct({ units: { [home]: 100 } });
    const user = uniqueName("greedy");
    const answers: Response[] = [];
    for (let i = 0; i < 4; i++)
      answers.push(
        await order(limited, {
          user,
          key: uniqueName("k"),
          body: { productId, quantity: 1 },
          headers: { "X-Region": home },
        }),
      );
    expect(answers.map((r) => r.status)).toEqual([202, 202, 202, 429]);
    expect(answers[0]!.headers.get("ratelimit-policy")).toBe('"user";q=3;w=10');
    expect(answers[1]!.headers.get("ratelimit")).toMatch(/^"user";r=1;t=\d+$/);
    const refused = answers[3]!;
    expect(Number(refused.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    expect(refused.headers.get("ratelimit")).toMatch(/^"user";r=0;t=\d+$/);
    expect(await refused.json()).toMatchObject({ code: "rate_limited", status: 429 });

    const other = await order(limited, {
      user: uniqueName("polite"),
      key: uniqueName("k"),
      body: { productId, quantity: 1 },
      headers: { "X-Region": home },
    });
    expect(other.status).toBe(202);
  });

  test("unauthenticated traffic is limited per IP: behind one trusted proxy, the address it appended", async () => {
    // A window far longer than the test, so it never straddles a window's end (where the sliding
    // window forgives part of the last one), and an address no earlier run used.
    const limited = inProcess(edgeApp({ ...env, FLUX_GATE_RATE_LIMIT_IP: "2/600s", FLUX_GATE_TRUSTED_PROXIES: "1" }));
    const fresh = () => `2001:db8::${crypto.randomUUID().slice(0, 4)}:${crypto.randomUUID().slice(0, 4)}`;
    const ip = { "X-Forwarded-For": `10.0.0.1, ${fresh()}` };
    const statuses = [];
    for (let i = 0; i < 3; i++)
      statuses.push((await limited(`/v1/products/${uniqueName("any")}`, { headers: ip })).status);
    expect(statuses).toEqual([404, 404, 429]);
    expect(
      (await limited(`/v1/products/${uniqueName("any")}`, { headers: { "X-Forwarded-For": fresh() } })).status,
    ).toBe(404);
  });

  test("on Cloudflare the per-IP limit counts CF-Connecting-IP, not the X-Forwarded-For a client writes", async () => {
    const app = edgeApp({ ...env, FLUX_GATE_RATE_LIMIT_IP: "2/600s" });
    // Workers give every request a `cf` object: that is how the edge knows where it runs.
    const onWorkers = (path: string, headers: Record<string, string>) =>
      app.request(Object.assign(new Request(`http://edge${path}`, { headers }), { cf: { country: "US" } }));
    const ip = `2001:db8::${crypto.randomUUID().slice(0, 4)}:${crypto.randomUUID().slice(0, 4)}`;
    const statuses = [];
    for (let i = 0; i < 3; i++)
      statuses.push(
        (
          await onWorkers(`/v1/products/${uniqueName("any")}`, {
            "CF-Connecting-IP": ip,
            "X-Forwarded-For": `192.0.2.${i}`,
          })
        ).status,
      );
    expect(statuses).toEqual([404, 404, 429]);
    expect(
      (
        await onWorkers(`/v1/products/${uniqueName("any")}`, {
          "CF-Connecting-IP": `198.51.100.${Math.floor(Math.random() * 250)}`,
        })
      ).status,
    ).toBe(404);
  });

  describe("JWT identity", () => {
    const secret = "edge-test-jwt-secret-of-enough-length";
    const jwtSend = inProcess(edgeApp({ ...env, FLUX_GATE_DEV_IDENTITY: undefined, FLUX_GATE_JWT_SECRET: secret }));
    const sign = (claims: { sub?: string; exp?: number }, key = secret) =>
      new SignJWT(claims).setProtectedHeader({ alg: "HS256" }).setIssuedAt().sign(new TextEncoder().encode(key));
    const lookup = (token: string) =>
      jwtSend(`/v1/orders/${crypto.randomUUID()}`, { headers: { Authorization: `Bearer ${token}` } });
    const inAMinute = () => Math.floor(Date.now() / 1000) + 60;

    test("a valid token's sub is the user; X-User-Id is ignored without development mode", async () => {
      expect((await lookup(await sign({ sub: "zoe", exp: inAMinute() }))).status).toBe(404);
      expect((await jwtSend(`/v1/orders/${crypto.randomUUID()}`, { headers: { "X-User-Id": "zoe" } })).status).toBe(
        401,
      );
    });

    test("the token's sub becomes the order's user in PostgreSQL, whatever X-User-Id says", async () => {
      const productId = await createProduct({ units: { [home]: 5 } });
      const sub = uniqueName("jwt-buyer");
      const response = await jwtSend("/v1/orders", {
        method: "POST",
        headers: {
          Authorization: `Bearer ${await sign({ sub, exp: inAMinute() })}`,
          "X-User-Id": "mallory",
          "Idempotency-Key": uniqueName("k"),
          "X-Region": home,
          "Content-Type": "application/json",
        },
        body: JSON.stringify({ productId, quantity: 1 }),
      });
      expect(response.status).toBe(202);
      const { orderId } = (await response.json()) as { orderId: string };
      expect((await waitForOrders(productId, [orderId], 30_000))[0]).toMatchObject({ id: orderId, userId: sub });
    });

    test.each([
      ["expired two minutes ago", () => sign({ sub: "zoe", exp: Math.floor(Date.now() / 1000) - 120 })],
      ["that never expires", () => sign({ sub: "zoe" })],
      ["signed with another key", () => sign({ sub: "zoe", exp: inAMinute() }, "not-the-secret-not-the-secret-at-all")],
      [
        "with alg none",
        async () =>
          `${btoa(JSON.stringify({ alg: "none", typ: "JWT" })).replaceAll("=", "")}.${btoa(JSON.stringify({ sub: "zoe" })).replaceAll("=", "")}.`,
      ],
      ["without sub", () => sign({ exp: inAMinute() })],
      ["that is not a JWT", async () => "garbage"],
    ])("a token %s is 401", async (_, token) => {
      const response = await lookup(await token());
      expect(response.status).toBe(401);
      expect(response.headers.get("www-authenticate")).toBe("Bearer");
      expect(await response.json()).toMatchObject({ code: "unauthenticated" });
    });
  });

  test("JWTs signed by a key from a JWKS are accepted; a key not in it is refused", async () => {
    const { publicKey, privateKey } = await generateKeyPair("ES256");
    const stranger = await generateKeyPair("ES256");
    const jwk = { ...(await exportJWK(publicKey)), kid: "k1", alg: "ES256", use: "sig" };
    const jwks = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => Response.json({ keys: [jwk] }) });
    const jwksSend = inProcess(
      edgeApp({
        ...env,
        FLUX_GATE_DEV_IDENTITY: undefined,
        FLUX_GATE_JWKS_URL: `http://127.0.0.1:${jwks.port}/jwks.json`,
      }),
    );
    const token = (key: CryptoKey) =>
      new SignJWT({ sub: "kim" }).setProtectedHeader({ alg: "ES256", kid: "k1" }).setExpirationTime("1m").sign(key);
    const lookup = async (key: CryptoKey) =>
      (
        await jwksSend(`/v1/orders/${crypto.randomUUID()}`, {
          headers: { Authorization: `Bearer ${await token(key)}` },
        })
      ).status;
    expect(await lookup(privateKey)).toBe(404);
    expect(await lookup(stranger.privateKey)).toBe(401);
    jwks.stop(true);
  });

  test("200 buyers at once each get their own order", async () => {
    const productId = await createProduct({ units: { [home]: 1_000 } });
    const crowd = uniqueName("crowd");
    const answers = await pooled(200, 50, async (i) => {
      const response = await order(send, {
        user: `${crowd}-${i}`,
        key: "buy",
        body: { productId, quantity: 1 },
        headers: { "X-Region": home },
      });
      return (await response.json()) as { orderId: string };
    });
    expect(new Set(answers.map((a) => a.orderId)).size).toBe(200);
    expect(await stockIn(send, home, productId)).toBe(800);
    // Each answer is the buyer's own order, not a neighbour's from the same batch (edge/reservations.ts):
    // the edge finds an order only for the buyer who placed it.
    const found = await pooled(200, 50, async (i) => {
      const response = await send(`/v1/orders/${answers[i]!.orderId}`, { headers: { "X-User-Id": `${crowd}-${i}` } });
      return response.status === 200 ? ((await response.json()) as { orderId: string }).orderId : response.status;
    });
    expect(found).toEqual(answers.map((a) => a.orderId));
  });
});
