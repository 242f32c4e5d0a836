/**
 * The edge in-process (app.request) against real gateways, cores, workers, Redis, Kafka and
 * PostgreSQL: the runtime contract, then what needs a configuration of its own (timeouts,
 * rate limits, JWTs, an edge restart).
 */
import { afterAll, describe, expect, test } from "bun:test";
import { createServer, type Socket } from "node:net";
import { SignJWT, exportJWK, generateKeyPair } from "jose";
import { regionVariable } from "../../shared/config.ts";
import { buyerKeys } from "../../shared/keys.ts";
import { connectRedis } from "../../shared/redis.ts";
import { config, uniqueName } from "../helpers.ts";
import { createProduct, pooled, withCoresAndWorkers } from "../pipeline/harness.ts";
import { edgeContract } from "./contract.ts";
import { edgeApp, edgeEnv, inProcess, order, startGateways, stockIn } from "./harness.ts";

const [home, away] = [config.regions[0]!.id, config.regions[1]!.id];
const gateways = startGateways();
const env = edgeEnv(gateways.env);
const send = inProcess(edgeApp(env));

// Bun runs a file's top-level afterAll early when the file also has describe blocks: keep
// the hooks inside one describe.
describe("edge, in-process", () => {
  withCoresAndWorkers([home, away]);
  afterAll(() => gateways.stop());

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
    const sockets: Socket[] = [];
    const blackhole = createServer((s) => void sockets.push(s)).listen(0, "127.0.0.1");
    await new Promise((r) => blackhole.once("listening", r));
    const port = (blackhole.address() as { port: number }).port;
    const stuck = inProcess(edgeApp({ ...env, [regionVariable("CORE_URL", home)]: `http://127.0.0.1:${port}`, FLUX_GATE_CORE_TIMEOUT_MS: "300" }));
    const productId = await createProduct({ units: { [home]: 5, [away]: 5 } });

    const response = await order(stuck, { user: "ivy", key: uniqueName("k"), body: { productId, quantity: 1 }, headers: { "X-Region": home } });
    expect(response.status).toBe(503);
    expect(response.headers.get("retry-after")).toBe("1");
    expect(await stockIn(send, away, productId)).toBe(5);
    for (const s of sockets) s.destroy();
    blackhole.close();
  });

  test("a client over its limit gets 429 with the IETF headers; another client is unaffected", async () => {
    const limited = inProcess(edgeApp({ ...env, FLUX_GATE_RATE_LIMIT_USER: "3/10s" }));
    const productId = await createProduct({ units: { [home]: 100 } });
    const user = uniqueName("greedy");
    const answers: Response[] = [];
    for (let i = 0; i < 4; i++) answers.push(await order(limited, { user, key: uniqueName("k"), body: { productId, quantity: 1 }, headers: { "X-Region": home } }));
    expect(answers.map((r) => r.status)).toEqual([202, 202, 202, 429]);
    expect(answers[0]!.headers.get("ratelimit-policy")).toBe('"user";q=3;w=10');
    expect(answers[1]!.headers.get("ratelimit")).toMatch(/^"user";r=1;t=\d+$/);
    const refused = answers[3]!;
    expect(Number(refused.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    expect(refused.headers.get("ratelimit")).toMatch(/^"user";r=0;t=\d+$/);
    expect(await refused.json()).toMatchObject({ code: "rate_limited", status: 429 });

    const other = await order(limited, { user: uniqueName("polite"), key: uniqueName("k"), body: { productId, quantity: 1 }, headers: { "X-Region": home } });
    expect(other.status).toBe(202);
  });

  test("unauthenticated traffic is limited per IP", async () => {
    const limited = inProcess(edgeApp({ ...env, FLUX_GATE_RATE_LIMIT_IP: "2/10s" }));
    const ip = { "X-Forwarded-For": `203.0.113.${Math.floor(Math.random() * 250)}, 10.0.0.1` };
    const statuses = [];
    for (let i = 0; i < 3; i++) statuses.push((await limited(`/v1/products/${uniqueName("any")}`, { headers: ip })).status);
    expect(statuses).toEqual([404, 404, 429]);
    expect((await limited(`/v1/products/${uniqueName("any")}`, { headers: { "X-Forwarded-For": "198.51.100.7" } })).status).toBe(404);
  });

  describe("JWT identity", () => {
    const secret = "edge-test-jwt-secret-of-enough-length";
    const jwtSend = inProcess(edgeApp({ ...env, FLUX_GATE_DEV_IDENTITY: undefined, FLUX_GATE_JWT_SECRET: secret }));
    const sign = (claims: { sub?: string; exp?: number }, key = secret) =>
      new SignJWT(claims).setProtectedHeader({ alg: "HS256" }).setIssuedAt().sign(new TextEncoder().encode(key));
    const lookup = (token: string) => jwtSend(`/v1/orders/${crypto.randomUUID()}`, { headers: { Authorization: `Bearer ${token}` } });
    const inAMinute = () => Math.floor(Date.now() / 1000) + 60;

    test("a valid token's sub is the user; X-User-Id is ignored without development mode", async () => {
      expect((await lookup(await sign({ sub: "zoe", exp: inAMinute() }))).status).toBe(404);
      expect((await jwtSend(`/v1/orders/${crypto.randomUUID()}`, { headers: { "X-User-Id": "zoe" } })).status).toBe(401);
    });

    test.each([
      ["expired", () => sign({ sub: "zoe", exp: Math.floor(Date.now() / 1000) - 10 })],
      ["signed with another key", () => sign({ sub: "zoe", exp: inAMinute() }, "not-the-secret-not-the-secret-at-all")],
      ["with alg none", async () => `${btoa(JSON.stringify({ alg: "none", typ: "JWT" })).replaceAll("=", "")}.${btoa(JSON.stringify({ sub: "zoe" })).replaceAll("=", "")}.`],
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
    const jwksSend = inProcess(edgeApp({ ...env, FLUX_GATE_DEV_IDENTITY: undefined, FLUX_GATE_JWKS_URL: `http://127.0.0.1:${jwks.port}/jwks.json` }));
    const token = (key: CryptoKey) => new SignJWT({ sub: "kim" }).setProtectedHeader({ alg: "ES256", kid: "k1" }).setExpirationTime("1m").sign(key);
    const lookup = async (key: CryptoKey) => (await jwksSend(`/v1/orders/${crypto.randomUUID()}`, { headers: { Authorization: `Bearer ${await token(key)}` } })).status;
    expect(await lookup(privateKey)).toBe(404);
    expect(await lookup(stranger.privateKey)).toBe(401);
    jwks.stop(true);
  });

  test("200 buyers at once each get their own order", async () => {
    const productId = await createProduct({ units: { [home]: 1_000 } });
    const crowd = uniqueName("crowd");
    const answers = await pooled(200, 50, async (i) => {
      const response = await order(send, { user: `${crowd}-${i}`, key: "buy", body: { productId, quantity: 1 }, headers: { "X-Region": home } });
      return (await response.json()) as { orderId: string };
    });
    expect(new Set(answers.map((a) => a.orderId)).size).toBe(200);
    expect(await stockIn(send, home, productId)).toBe(800);
  });
});
