/**
 * The three ways an edge reaches a buyer's home region (ioredis and Bun's client over RESP, the
 * Upstash REST protocol through the REST adapter) run the same scripts on the same keys and decide
 * alike: an edge of each kind can serve one deployment.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { admissionStore, type AdmissionRequest } from "../../edge/admission/admission.ts";
import { bunHomeRedis } from "../../edge/home/bun-resp.ts";
import type { HomeRedis } from "../../edge/home/home.ts";
import { respHomeRedis } from "../../edge/home/resp.ts";
import { restHomeRedis } from "../../edge/home/rest.ts";
import { rateLimiter } from "../../edge/middleware/rate-limit/index.ts";
import { regionVariable } from "../../shared/config.ts";
import { luaScript } from "../../shared/lua.ts";
import { connectRedis } from "../../shared/redis.ts";
import { config, uniqueName } from "../support/helpers.ts";
import { startRedisRestAdapters } from "../support/edge.ts";

const region = config.regions[0]!;
const restAdapters = startRedisRestAdapters();
const restRegion = { ...region, redisRestUrl: restAdapters.env[regionVariable("REDIS_REST_URL", region.id)]! };
const transports: [string, HomeRedis][] = [
  ["ioredis (Deno)", respHomeRedis.connect(region, 1_000)],
  ["Bun's client (Bun)", bunHomeRedis.connect(region, 1_000)],
  ["REST (Workers)", restHomeRedis.connect(restRegion, 1_000)],
];
const admin = connectRedis(region.redisUrl);

function request(overrides: Partial<AdmissionRequest> = {}): AdmissionRequest {
  return {
    userId: uniqueName("u"),
    idempotencyKey: uniqueName("k"),
    fingerprint: "POST /v1/orders p 1",
    token: crypto.randomUUID(),
    orderId: crypto.randomUUID(),
    productId: "p",
    quantity: 1,
    perUserLimit: 2,
    firstRegion: region.id,
    allowanceExpiresAt: Date.now() + 60_000,
    ...overrides,
  };
}

describe("home-region transports", () => {
  afterAll(() => {
    for (const [, t] of transports) t.close();
    admin.disconnect();
    restAdapters.stop();
  });

  test.each(transports)("%s: claim, in flight, complete, replay; the limit counts across keys", async (_, redis) => {
    const store = admissionStore(redis, { leaseMs: 5_000, keepSeconds: 60 });
    const first = request();
    expect(await store.admit(first)).toMatchObject({ kind: "new" });
    expect(await store.admit({ ...first, token: crypto.randomUUID() })).toMatchObject({ kind: "in_flight" });
    expect(await store.admit({ ...first, fingerprint: "POST /v1/orders p 2" })).toEqual({ kind: "reused" });
    await store.complete(first, {
      outcome: "served",
      answer: { status: 202, contentType: "application/json", body: '{"orderId":"x"}' },
      region: region.id,
    });
    expect(await store.admit({ ...first, token: crypto.randomUUID() })).toEqual({
      kind: "replay",
      status: 202,
      contentType: "application/json",
      body: '{"orderId":"x"}',
    });
    expect(await store.servedAt(first.userId, first.orderId)).toEqual({ region: region.id, productId: "p" });

    const second = request({ userId: first.userId, quantity: 2, orderId: crypto.randomUUID() });
    expect(await store.admit(second)).toEqual({ kind: "limit", counted: 1 });
    await store.releaseAllowance(first.userId, "p", first.orderId);
    expect(await store.admit(second)).toMatchObject({ kind: "new" });
    // A quantity below 1 would lower what the other orders count: the script refuses it outright.
    expect(store.admit(request({ userId: first.userId, quantity: -5, orderId: crypto.randomUUID() }))).rejects.toThrow(
      "quantity must be at least 1",
    );
  });

  test.each(transports)(
    "%s: the order is noted where it is about to be served before any core answers; a refusal drops the note",
    async (_, redis) => {
      const store = admissionStore(redis, { leaseMs: 5_000, keepSeconds: 60 });
      const order = request({ productId: "noted" });
      expect(await store.servedAt(order.userId, order.orderId)).toBeUndefined();
      await store.admit(order);
      expect(await store.servedAt(order.userId, order.orderId)).toEqual({ region: region.id, productId: "noted" });
      await store.tryRegion(order, "eu-west");
      expect(await store.servedAt(order.userId, order.orderId)).toEqual({ region: "eu-west", productId: "noted" });
      await store.complete(order, {
        outcome: "refused",
        answer: { status: 409, contentType: "application/problem+json", body: "{}" },
      });
      expect(await store.servedAt(order.userId, order.orderId)).toBeUndefined();
    },
  );

  test.each(transports)(
    "%s: a retry that takes over a lapsed key learns the regions tried and when",
    async (_, redis) => {
      const store = admissionStore(redis, { leaseMs: 1, keepSeconds: 60 });
      const first = request();
      const claimed = await store.admit(first);
      expect(claimed).toMatchObject({ kind: "new" });
      const namedAt = await store.tryRegion(first, "eu-west");
      expect(namedAt).toBeGreaterThanOrEqual((claimed as { now: number }).now);
      await store.complete(first, { outcome: "unsettled" });
      const retry = { ...first, token: crypto.randomUUID() };
      expect(await store.admit(retry)).toMatchObject({ kind: "resume", tried: [region.id, "eu-west"], sent: namedAt });
      // The dead request's token no longer names regions or completes the key.
      expect(await store.tryRegion(first, "ap-south")).toBe(0);
      // A re-ask that was answered gives back the earlier send time.
      expect(await store.tryRegion(retry, "eu-west")).toBeGreaterThanOrEqual(namedAt);
      await store.complete(retry, { outcome: "unsettled", restoreSent: namedAt });
      expect(await store.admit({ ...first, token: crypto.randomUUID() })).toMatchObject({
        kind: "resume",
        sent: namedAt,
      });
    },
  );

  test.each(transports)("%s: scripts survive Redis forgetting them", async (_, redis) => {
    await admin.script("FLUSH");
    const store = admissionStore(redis, { leaseMs: 5_000, keepSeconds: 60 });
    expect(await store.admit(request())).toMatchObject({ kind: "new" });
    const verdict = await rateLimiter("flush-test", { requests: 5, windowSeconds: 10 })(
      redis.ratelimit,
      uniqueName("id"),
    );
    expect(verdict.success).toBe(true);
    expect(verdict.headers.RateLimit).toMatch(/r=4;/);
  });

  test.each(transports)("%s: a script given another KEYS count fails before Redis runs it", async (_, redis) => {
    const key = uniqueName("script-keys");
    const writesTwo = luaScript("redis.call('SET', KEYS[1], 'x') return redis.call('SET', KEYS[2], 'y')", { keys: 2 });
    await expect(redis.run(writesTwo, [key], [])).rejects.toThrow("takes 2 KEYS was given 1");
    expect(await admin.exists(key)).toBe(0);
  });

  test("@upstash/ratelimit decides the same through every transport, counting in one window", async () => {
    const limiter = rateLimiter("shared", { requests: 4, windowSeconds: 10 });
    const identifier = uniqueName("client");
    const decisions = [];
    for (let i = 0; i < 6; i++) {
      const [name, redis] = transports[i % transports.length]!;
      decisions.push([name, (await limiter(redis.ratelimit, identifier)).success]);
    }
    expect(decisions.map(([, ok]) => ok)).toEqual([true, true, true, true, false, false]);
  });
});
