/**
 * A region's Redis that is full: its memory is a metric, and a reservation refused for memory
 * gets a refusal that says so (503 overloaded), not a bare "unavailable". A Redis of the test's
 * own, so that filling it costs no other test anything.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createCoreApp } from "../../core/http/app.ts";
import { coreMetrics } from "../../core/metrics.ts";
import type { Records } from "../../core/records.ts";
import { RegionStore } from "../../core/reservation/store.ts";
import { bunRedis } from "../../shared/bun-redis.ts";
import { createRegistry, readSamples } from "../../shared/metrics.ts";
import { connectRedis } from "../../shared/redis.ts";
import { signRequest } from "../../shared/signing.ts";
import { ownRedis, saleRules } from "../support/helpers.ts";

const REGION = "test-memory";
const SECRET = "test-memory-secret";

describe("a full Redis", () => {
  let server: Awaited<ReturnType<typeof ownRedis>>;
  let url: string;
  beforeAll(async () => {
    server = await ownRedis();
    url = server.url;
  });
  afterAll(() => server.stop());

  test("is a metric, and a reservation it refuses is 503 overloaded saying why; with room again, orders flow", async () => {
    const redis = connectRedis(url);
    const requestPath = bunRedis(url, 1_000);
    const store = new RegionStore(redis, REGION, 1_000, requestPath.send);
    const productId = "memory-test";
    await store.activate(saleRules("memory", { productId, perUserLimit: 10, maxPerOrder: 1 }));
    expect(await store.allocation.allocate(productId, "initial", 10)).toMatchObject({ ok: true });
    const records: Records = {
      rules: async () => undefined,
      order: async () => undefined,
      storedOrders: async () => [],
      settledChanges: async () => [],
    };
    const registry = createRegistry("core", REGION);
    coreMetrics(registry, store);
    const app = createCoreApp({
      store,
      records,
      secret: SECRET,
      adminSecret: SECRET,
      maxBodyBytes: 4_096,
      metrics: { registry, reservation: () => {} },
    });
    const reserve = () => {
      const body = JSON.stringify({
        orderId: crypto.randomUUID(),
        userId: crypto.randomUUID(),
        productId,
        quantity: 1,
        originRegion: REGION,
      });
      return app.request("/v1/reservations", {
        method: "POST",
        headers: { "Content-Type": "application/json", ...signRequest(SECRET, "POST", "/v1/reservations", body) },
        body,
      });
    };
    const gauge = async (name: string) => readSamples(await registry.metrics()).find((s) => s.name === name)?.value;

    expect((await reserve()).status).toBe(202);
    expect(await gauge("flux_gate_redis_used_memory_bytes")).toBeGreaterThan(100_000);
    expect(await gauge("flux_gate_redis_maxmemory_bytes")).toBe(0);

    await redis.config("SET", "maxmemory", "1");
    const refused = await reserve();
    expect(refused.status).toBe(503);
    expect(refused.headers.get("retry-after")).toBe("1");
    expect(await refused.json()).toMatchObject({
      code: "overloaded",
      detail: expect.stringContaining("out of memory"),
    });
    expect(await gauge("flux_gate_redis_maxmemory_bytes")).toBe(1);
    expect(await store.stock(productId)).toMatchObject({ available: 9, held: 1 });

    await redis.config("SET", "maxmemory", "0");
    expect((await reserve()).status).toBe(202);
    redis.disconnect();
    requestPath.close();
  });
});
