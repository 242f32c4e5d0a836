/** The core's metrics when Redis is gone: the scrape still answers, and the depth is unknown, not 0. */
import { describe, expect, test } from "bun:test";
import { coreMetrics } from "../../core/metrics.ts";
import { RegionStore } from "../../core/reservation/store.ts";
import { createRegistry, readSamples } from "../../shared/metrics.ts";
import { connectRedis } from "../../shared/redis.ts";

describe("core metrics", () => {
  test("a scrape while Redis is unreachable answers, with the outbox depth NaN", async () => {
    const unreachable = connectRedis("redis://127.0.0.1:1", { reconnect: false, commandTimeoutMs: 200 });
    const registry = createRegistry("core", "test");
    const metrics = coreMetrics(registry, new RegionStore(unreachable, "test", 10));
    metrics.reservation("sold_out");
    const samples = readSamples(await registry.metrics());
    expect(samples.find((s) => s.name === "flux_gate_outbox_depth")?.value).toBeNaN();
    expect(samples.find((s) => s.name === "flux_gate_redis_used_memory_bytes")?.value).toBeNaN();
    expect(samples.find((s) => s.name === "flux_gate_reservations_total")).toMatchObject({
      labels: { outcome: "sold_out", component: "core", region: "test" },
      value: 1,
    });
    unreachable.disconnect();
  });
});
