import { describe, expect, test } from "bun:test";
import { ConfigError, loadConfig, redisUrlVariable, regionById } from "../../shared/config.ts";

describe("loadConfig", () => {
  test("defaults to two regions with their own Redis, topic and port", () => {
    const config = loadConfig({}, "/srv/app");
    expect(config.regions.map((r) => [r.id, r.redisUrl, r.kafkaTopic, r.redisExternal])).toEqual([
      ["us-east", "redis://127.0.0.1:6380", "flux-gate.orders.us-east", false],
      ["eu-west", "redis://127.0.0.1:6381", "flux-gate.orders.eu-west", false],
    ]);
    expect(config.home).toBe("/srv/app/.flux-gate");
    expect(config.postgres).toEqual({ url: "postgres://postgres@127.0.0.1:5433/fluxgate", external: false, port: 5433 });
    expect(config.kafka).toMatchObject({ brokers: ["127.0.0.1:9092"], external: false, partitions: 3 });
    expect(config.redis.appendFsync).toBe("everysec");
  });

  test("a service URL in the environment marks that service external", () => {
    const config = loadConfig({
      [redisUrlVariable("eu-west")]: "redis://cache.internal:6379",
      DATABASE_URL: "postgres://app@db.internal/sales",
      KAFKA_BROKERS: "k1:9092, k2:9092",
    });
    expect(regionById(config, "eu-west")).toMatchObject({ redisUrl: "redis://cache.internal:6379", redisExternal: true });
    expect(regionById(config, "us-east").redisExternal).toBe(false);
    expect(config.postgres).toMatchObject({ url: "postgres://app@db.internal/sales", external: true });
    expect(config.kafka).toMatchObject({ brokers: ["k1:9092", "k2:9092"], external: true });
  });

  test("regions and ports follow the environment", () => {
    const config = loadConfig({ FLUX_GATE_REGIONS: "ap-south,us-east,eu-west", FLUX_GATE_REDIS_PORT: "7000", FLUX_GATE_KAFKA_PORT: "19092" });
    expect(config.regions.map((r) => r.redisPort)).toEqual([7000, 7001, 7002]);
    expect(config.kafka).toMatchObject({ port: 19092, controllerPort: 19093 });
    expect(redisUrlVariable("ap-south")).toBe("REDIS_URL_AP_SOUTH");
  });

  test.each([
    [{ FLUX_GATE_REGIONS: "us-east,US_West" }, /"US_West" is not a region id/],
    [{ FLUX_GATE_REGIONS: "us-east,us-east" }, /lists a region twice/],
    [{ FLUX_GATE_PG_PORT: "70000" }, /FLUX_GATE_PG_PORT must be a TCP port/],
    [{ FLUX_GATE_KAFKA_PARTITIONS: "0" }, /FLUX_GATE_KAFKA_PARTITIONS must be a positive whole number/],
    [{ FLUX_GATE_REDIS_APPENDFSYNC: "no" }, /must be "always" or "everysec"/],
  ])("refuses %o with a one-line message", (env, message) => {
    expect(() => loadConfig(env)).toThrow(ConfigError);
    expect(() => loadConfig(env)).toThrow(message);
  });

  test("an unknown region is named with the configured ones", () => {
    expect(() => regionById(loadConfig({}), "mars")).toThrow('unknown region "mars" (configured: us-east, eu-west)');
  });
});
