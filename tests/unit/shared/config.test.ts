import { describe, expect, test } from "bun:test";
import {
  ConfigError,
  loadConfig,
  redactUrl,
  redisUrlVariable,
  regionById,
  requireSecrets,
} from "../../../shared/config.ts";

describe("loadConfig", () => {
  test("defaults to two regions with their own Redis, topic and port", () => {
    const config = loadConfig({}, "/srv/app");
    expect(config.regions.map((r) => [r.id, r.redisUrl, r.kafkaTopic, r.redisExternal])).toEqual([
      ["us-east", "redis://127.0.0.1:6380", "flux-gate.orders.us-east", false],
      ["eu-west", "redis://127.0.0.1:6381", "flux-gate.orders.eu-west", false],
    ]);
    expect(config.home).toBe("/srv/app/.flux-gate");
    expect(config.postgres).toMatchObject({
      url: "postgres://postgres@127.0.0.1:5433/fluxgate",
      external: false,
      port: 5433,
      // One topology, no pool: everyone connects to PostgreSQL itself.
      poolUrl: "postgres://postgres@127.0.0.1:5433/fluxgate",
      pooled: false,
    });
    expect(config.topology).toBe("single");
    expect(config.regions.map((r) => [r.redisCluster, r.cores.length, r.workers.length])).toEqual([
      [false, 1, 1],
      [false, 1, 1],
    ]);
    expect(config.core.replicaWaitMs).toBe(0);
    expect(config.kafka).toMatchObject({ brokers: ["127.0.0.1:9092"], external: false, partitions: 3 });
    expect(config.redis.appendFsync).toBe("everysec");
  });

  test("a service URL in the environment marks that service external", () => {
    const config = loadConfig({
      [redisUrlVariable("eu-west")]: "redis://cache.internal:6379",
      DATABASE_URL: "postgres://app@db.internal/sales",
      KAFKA_BROKERS: "k1:9092, k2:9092",
    });
    expect(regionById(config, "eu-west")).toMatchObject({
      redisUrl: "redis://cache.internal:6379",
      redisExternal: true,
    });
    expect(regionById(config, "us-east").redisExternal).toBe(false);
    expect(config.postgres).toMatchObject({ url: "postgres://app@db.internal/sales", external: true });
    expect(config.kafka).toMatchObject({ brokers: ["k1:9092", "k2:9092"], external: true });
  });

  test("regions and ports follow the environment", () => {
    const config = loadConfig({
      FLUX_GATE_REGIONS: "ap-south,us-east,eu-west",
      FLUX_GATE_REDIS_PORT: "7000",
      FLUX_GATE_KAFKA_PORT: "19092",
    });
    expect(config.regions.map((r) => r.redisPort)).toEqual([7000, 7001, 7002]);
    expect(config.kafka.nodes).toEqual([{ id: 1, port: 19092, controllerPort: 19093 }]);
    expect(redisUrlVariable("ap-south")).toBe("REDIS_URL_AP_SOUTH");
  });

  test("the scaled topology: a Redis Cluster per region, three brokers, two cores and workers, PgBouncer", () => {
    const config = loadConfig({ FLUX_GATE_TOPOLOGY: "scaled" });
    const [usEast, euWest] = config.regions;
    expect(usEast).toMatchObject({
      redisCluster: true,
      redisPorts: [7000, 7001, 7002, 7003, 7004, 7005],
      redisUrl: "redis://127.0.0.1:7000",
      cores: [
        { port: 8101, url: "http://127.0.0.1:8101" },
        { port: 8111, url: "http://127.0.0.1:8111" },
      ],
      workers: [
        { port: 8401, url: "http://127.0.0.1:8401" },
        { port: 8411, url: "http://127.0.0.1:8411" },
      ],
    });
    expect(euWest!.redisPorts[0]).toBe(7010);
    expect(euWest!.cores.map((c) => c.port)).toEqual([8102, 8112]);
    expect(config.kafka).toMatchObject({
      brokers: ["127.0.0.1:9192", "127.0.0.1:9194", "127.0.0.1:9196"],
      partitions: 6,
      replicationFactor: 3,
      minInsyncReplicas: 2,
    });
    expect(config.postgres).toMatchObject({ poolUrl: "postgres://postgres@127.0.0.1:6432/fluxgate", pooled: true });
    expect(config.core.replicaWaitMs).toBe(500);
  });

  test("a region's cores can be given as a list", () => {
    const config = loadConfig({ FLUX_GATE_TOPOLOGY: "scaled", CORE_URL_US_EAST: "http://a:1, http://b:2" });
    expect(regionById(config, "us-east").cores.map((c) => c.url)).toEqual(["http://a:1", "http://b:2"]);
  });

  test.each([
    [{ FLUX_GATE_TOPOLOGY: "huge" }, /FLUX_GATE_TOPOLOGY must be one of single, scaled, not "huge"/],
    [{ FLUX_GATE_REGIONS: "us-east,US_West" }, /"US_West" is not a region id/],
    [{ FLUX_GATE_REGIONS: "us-east,us-east" }, /lists a region twice/],
    [{ FLUX_GATE_PG_PORT: "70000" }, /FLUX_GATE_PG_PORT must be a TCP port/],
    [{ FLUX_GATE_KAFKA_PARTITIONS: "0" }, /FLUX_GATE_KAFKA_PARTITIONS must be a positive whole number/],
    [{ FLUX_GATE_REDIS_APPENDFSYNC: "no" }, /must be "always" or "everysec"/],
    [{ FLUX_GATE_ORDER_RETENTION_MS: "30000" }, /FLUX_GATE_ORDER_RETENTION_MS must be at least 60000 in production/],
    [{ FLUX_GATE_RATE_LIMIT_TICKET: "fast" }, /FLUX_GATE_RATE_LIMIT_TICKET/],
  ])("refuses %o with a one-line message", (env, message) => {
    expect(() => loadConfig(env)).toThrow(ConfigError);
    expect(() => loadConfig(env)).toThrow(message);
  });

  test("production is the default; it refuses missing and short secrets where a component needs them, naming each, and the dev identity", () => {
    const long = "a-secret-of-thirty-two-bytes-000";
    const production = loadConfig({ CORE_SECRET_US_EAST: long, CORE_ADMIN_SECRET_US_EAST: "s3cret" });
    expect(production.mode).toBe("production");
    expect(() => requireSecrets(production, ["CORE_SECRET_US_EAST"])).not.toThrow();
    expect(() =>
      requireSecrets(production, [
        "CORE_SECRET_US_EAST",
        "CORE_ADMIN_SECRET_US_EAST",
        "CORE_SECRET_EU_WEST",
        "FLUX_GATE_ORDER_ID_SECRET",
      ]),
    ).toThrow(
      "CORE_SECRET_EU_WEST, FLUX_GATE_ORDER_ID_SECRET must be set in production; CORE_ADMIN_SECRET_US_EAST must be at least 32 bytes (FLUX_GATE_ENV=development runs on local defaults)",
    );
    expect(() => requireSecrets(loadConfig({ FLUX_GATE_ENV: "development" }), ["CORE_SECRET_EU_WEST"])).not.toThrow();
    expect(() => loadConfig({ FLUX_GATE_DEV_IDENTITY: "1" })).toThrow(/refused in production/);
  });

  test("rate limits and country preferences are parsed and checked", () => {
    const config = loadConfig({
      FLUX_GATE_RATE_LIMIT_USER: "5/2s",
      FLUX_GATE_COUNTRY_REGIONS: "JP:eu-west,us-east;*:us-east",
    });
    expect(config.edge.rateLimit.user).toEqual({ requests: 5, windowSeconds: 2 });
    expect(config.edge.countryRegions).toEqual({ JP: ["eu-west", "us-east"], "*": ["us-east"] });
    expect(() => loadConfig({ FLUX_GATE_RATE_LIMIT_IP: "fast" })).toThrow(
      'FLUX_GATE_RATE_LIMIT_IP must look like "20/10s"',
    );
    expect(() => loadConfig({ FLUX_GATE_COUNTRY_REGIONS: "JP:mars" })).toThrow(/"JP:mars" is not COUNTRY:region/);
  });

  test("an unknown region is named with the configured ones", () => {
    expect(() => regionById(loadConfig({}), "mars")).toThrow('unknown region "mars" (configured: us-east, eu-west)');
  });
});

describe("redactUrl", () => {
  test("hides a password and leaves everything else", () => {
    expect(redactUrl("postgres://app:s3cret@db.internal:5432/fluxgate")).toBe(
      "postgres://app:***@db.internal:5432/fluxgate",
    );
    expect(redactUrl("redis://127.0.0.1:6380")).toBe("redis://127.0.0.1:6380");
    expect(redactUrl("not a url")).toBe("not a url");
  });
});
