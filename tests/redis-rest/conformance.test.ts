/**
 * The Redis REST adapter against the real clients that use it: `@upstash/redis` and
 * `@upstash/ratelimit`, over HTTP, in front of real Redis.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { Ratelimit } from "@upstash/ratelimit";
import { Redis as Upstash } from "@upstash/redis";
import { allowEverything } from "../../redis-rest/allow-list.ts";
import { createRedisRestApp } from "../../redis-rest/app.ts";
import { createRegistry, readSamples, total } from "../../shared/metrics.ts";
import { connectRedis } from "../../shared/redis.ts";
import { config, uniqueName } from "../support/helpers.ts";

const TOKEN = "conformance-token";
const redis = connectRedis(config.regions[0]!.redisUrl);
const server = Bun.serve({
  port: 0,
  hostname: "127.0.0.1",
  fetch: createRedisRestApp({ redis, token: TOKEN, allow: allowEverything }).fetch,
});
const url = `http://127.0.0.1:${server.port}`;
const client = (options: { token?: string; base64?: boolean } = {}) =>
  new Upstash({
    url,
    token: options.token ?? TOKEN,
    enableTelemetry: false,
    responseEncoding: options.base64 === false ? false : "base64",
    retry: false,
  });
const upstash = client();
afterAll(() => {
  server.stop(true);
  redis.disconnect();
});

const key = (name: string) => `{gw}:${uniqueName(name)}`;

describe("@upstash/redis through the REST adapter", () => {
  test("strings, including unicode and text that looks like base64", async () => {
    const k = key("s");
    expect(await upstash.set(k, "héllo ⚡ T0s=")).toBe("OK");
    expect(await upstash.get(k)).toBe("héllo ⚡ T0s=");
    expect(await client({ base64: false }).get(k)).toBe("héllo ⚡ T0s=");
    expect(await upstash.get(key("missing"))).toBeNull();
  });

  test("numbers stay numbers", async () => {
    const k = key("n");
    expect(await upstash.incrby(k, 41)).toBe(41);
    expect(await upstash.incr(k)).toBe(42);
    expect(await upstash.ttl(k)).toBe(-1);
  });

  test("hashes and nested arrays", async () => {
    const k = key("h");
    expect(await upstash.hset(k, { a: "1", b: "two" })).toBe(2);
    expect(await upstash.hgetall(k)).toEqual({ a: 1, b: "two" });
    const z = key("z");
    await upstash.zadd(z, { score: 1, member: "x" }, { score: 2, member: "y" });
    expect(await upstash.zrange(z, 0, -1, { withScores: true })).toEqual(["x", 1, "y", 2]);
  });

  test("pipelines answer per command, errors included", async () => {
    const k = key("p");
    const results = await upstash.pipeline().set(k, "v").get(k).incr(k).exec({ keepErrors: true });
    expect(results[0]).toEqual({ result: "OK", error: undefined });
    expect(results[1]).toEqual({ result: "v", error: undefined });
    expect(results[2]!.error).toBe("ERR value is not an integer or out of range");
  });

  test("multi-exec runs the commands as one transaction", async () => {
    const k = key("m");
    expect(await upstash.multi().set(k, "1").incr(k).get(k).exec()).toEqual(["OK", 2, 2]);
  });

  test("scripts: EVALSHA, and the NOSCRIPT fallback after Redis forgot them", async () => {
    const script = upstash.createScript<number>("return redis.call('INCRBY', KEYS[1], ARGV[1])");
    const k = key("lua");
    expect(await script.exec([k], ["5"])).toBe(5);
    await redis.script("FLUSH");
    expect(await script.exec([k], ["5"])).toBe(10);
    await expect(upstash.evalsha("0".repeat(40), [], [])).rejects.toThrow(/NOSCRIPT/);
  });

  test("Redis errors pass through verbatim", async () => {
    const k = key("e");
    await upstash.set(k, "text");
    await expect(upstash.lpush(k, "x")).rejects.toThrow(
      "WRONGTYPE Operation against a key holding the wrong kind of value",
    );
  });

  test("a wrong token is refused with 401, and nothing runs", async () => {
    const k = key("auth");
    await expect(client({ token: "guess" }).set(k, "x")).rejects.toThrow("Unauthorized");
    expect(await redis.exists(k)).toBe(0);
  });

  test("a body over 1 MB is refused before it reaches Redis", async () => {
    const k = key("big");
    const response = await fetch(url, {
      method: "POST",
      headers: { Authorization: `Bearer ${TOKEN}` },
      body: JSON.stringify(["SET", k, "x".repeat(1_100_000)]),
    });
    expect(response.status).toBe(413);
    expect(await redis.exists(k)).toBe(0);
  });

  test("blocking commands are refused rather than holding the shared connection", async () => {
    const response = await fetch(url, {
      method: "POST",
      headers: { Authorization: `Bearer ${TOKEN}` },
      body: JSON.stringify(["BLPOP", key("q"), 5]),
    });
    expect(response.status).toBe(400);
    expect(await response.json()).toEqual({ error: "ERR BLPOP is not available over REST" });
  });
});

describe("the REST API's path form, as Upstash documents it", () => {
  const call = async (path: string, init: RequestInit = {}) => {
    const response = await fetch(`${url}${path}`, { ...init, headers: { Authorization: `Bearer ${TOKEN}` } });
    return [response.status, await response.json()];
  };

  test("GET /set/key/value, /get/key; segments are URL-decoded", async () => {
    const k = key("path/with slash");
    expect(await call(`/set/${encodeURIComponent(k)}/${encodeURIComponent("héllo wörld")}`)).toEqual([
      200,
      { result: "OK" },
    ]);
    expect(await call(`/get/${encodeURIComponent(k)}`)).toEqual([200, { result: "héllo wörld" }]);
    expect(await upstash.get(k)).toBe("héllo wörld");
  });

  test("POST /set/key takes the value from the body; query parameters follow as name and value", async () => {
    const k = key("body");
    expect(
      await call(`/set/${encodeURIComponent(k)}?EX=100`, { method: "POST", body: "a value / with ?&= in it" }),
    ).toEqual([200, { result: "OK" }]);
    expect(await upstash.get(k)).toBe("a value / with ?&= in it");
    expect(await upstash.ttl(k)).toBeGreaterThan(90);
  });

  test("the token is required, and Redis's errors come back in the same shape", async () => {
    expect((await fetch(`${url}/get/x`)).status).toBe(401);
    expect(await call(`/incr/${encodeURIComponent(key("n"))}/too/many`)).toEqual([
      400,
      { error: "ERR wrong number of arguments for 'incr' command" },
    ]);
  });
});

describe("@upstash/ratelimit through the REST adapter", () => {
  test("a sliding window limits one client and leaves another alone", async () => {
    const limiter = new Ratelimit({
      redis: upstash,
      limiter: Ratelimit.slidingWindow(3, "10 s"),
      prefix: uniqueName("rl"),
      analytics: false,
    });
    const first = [];
    for (let i = 0; i < 4; i++) first.push((await limiter.limit("client-a")).success);
    expect(first).toEqual([true, true, true, false]);
    expect((await limiter.limit("client-b")).success).toBe(true);
  });

  test("keeps working after Redis forgot its scripts", async () => {
    const limiter = new Ratelimit({
      redis: upstash,
      limiter: Ratelimit.slidingWindow(2, "10 s"),
      prefix: uniqueName("rl"),
      analytics: false,
    });
    expect((await limiter.limit("c")).success).toBe(true);
    await redis.script("FLUSH");
    expect((await limiter.limit("c")).success).toBe(true);
    expect((await limiter.limit("c")).success).toBe(false);
  });
});

describe("probes and metrics", () => {
  test("/ready pings Redis; /metrics times each route, without the token", async () => {
    const registry = createRegistry("redis-rest", "test");
    const app = createRedisRestApp({ redis, token: TOKEN, allow: allowEverything, registry });
    expect(await (await app.request("/ready")).json()).toEqual({ status: "ready", redis: true });
    await app.request("/pipeline", {
      method: "POST",
      headers: { Authorization: `Bearer ${TOKEN}` },
      body: JSON.stringify([["PING"]]),
    });
    const metrics = await app.request("/metrics");
    expect(metrics.status).toBe(200);
    const samples = readSamples(await metrics.text());
    expect(
      total(samples, "flux_gate_http_request_duration_seconds_count", {
        route: "/pipeline",
        status: "200",
        component: "redis-rest",
      }),
    ).toBe(1);
  });
});
