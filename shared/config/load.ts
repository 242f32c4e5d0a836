/**
 * The one description of a Flux-Gate deployment, read from the environment. Every component
 * (stack, core, worker, edge, tests) reads it from here, so a region, a port or a topic name is
 * spelled in one place.
 *
 * Everything has a local default; the environment overrides it. A service whose URL is given
 * in the environment is "external": the local stack uses it and starts nothing of that kind.
 */
import { resolve } from "node:path";
import { REDIS_COMPONENTS, type RedisComponent, redisPasswordVariable } from "../redis-users.ts";
import { adminSettings } from "./admin.ts";
import { DEFAULT_REGIONS, DEFAULTS } from "./defaults.ts";
import { edgeSettings } from "./edge.ts";
import { ConfigError, type Env, list, onOff, port, positiveInt, testHalt, wholeNumber } from "./env.ts";
import { DATABASE_NAME } from "./fixed.ts";
import { regionSettings } from "./regions.ts";
import { secretReader } from "./secrets.ts";
import { type Config, TOPOLOGIES, type Topology } from "./types.ts";

const REGION_ID = /^[a-z][a-z0-9-]{0,30}$/;

export function loadConfig(env: Env = process.env, cwd = process.cwd()): Config {
  const mode = env.FLUX_GATE_ENV ?? DEFAULTS.mode;
  if (mode !== "development" && mode !== "production") {
    throw new ConfigError(`FLUX_GATE_ENV must be "development" or "production", not "${mode}"`);
  }
  const topologyName = env.FLUX_GATE_TOPOLOGY ?? DEFAULTS.topology;
  if (!(TOPOLOGIES as readonly string[]).includes(topologyName)) {
    throw new ConfigError(`FLUX_GATE_TOPOLOGY must be one of ${TOPOLOGIES.join(", ")}, not "${topologyName}"`);
  }
  const topology = topologyName as Topology;
  const scaled = topology === "scaled";
  const regionIds = list(env.FLUX_GATE_REGIONS) ?? DEFAULT_REGIONS;
  for (const id of regionIds) {
    if (!REGION_ID.test(id)) {
      throw new ConfigError(`FLUX_GATE_REGIONS: "${id}" is not a region id (lowercase letters, digits and dashes)`);
    }
  }
  if (new Set(regionIds).size !== regionIds.length) {
    throw new ConfigError(`FLUX_GATE_REGIONS lists a region twice: ${regionIds.join(",")}`);
  }

  const { secret, defaulted: defaultedSecrets, short: shortSecrets } = secretReader(env);
  const orderIdSecret = secret("FLUX_GATE_ORDER_ID_SECRET");
  const redisUsers = onOff(env, "FLUX_GATE_REDIS_USERS", DEFAULTS.redis.users);
  const redisPasswords = Object.fromEntries(
    REDIS_COMPONENTS.map((c) => [c, secret(redisPasswordVariable(c)) ?? `development-only-redis-password-${c}`]),
  ) as Record<RedisComponent, string>;
  const regions = regionSettings(env, regionIds, topology, secret, { users: redisUsers, passwords: redisPasswords });

  const appendFsync = env.FLUX_GATE_REDIS_APPENDFSYNC ?? DEFAULTS.redis.appendFsync;
  if (appendFsync !== "always" && appendFsync !== "everysec") {
    throw new ConfigError(`FLUX_GATE_REDIS_APPENDFSYNC must be "always" or "everysec", not "${appendFsync}"`);
  }

  const postgresPort = port(env, "FLUX_GATE_PG_PORT", DEFAULTS.postgres.port);
  const postgresUrl = env.DATABASE_URL ?? `postgres://postgres@127.0.0.1:${postgresPort}/${DATABASE_NAME}`;
  const poolPort = port(env, "FLUX_GATE_PGBOUNCER_PORT", DEFAULTS.postgres.poolPort);
  const poolUrl = scaled
    ? (env.DATABASE_POOL_URL ?? `postgres://postgres@127.0.0.1:${poolPort}/${DATABASE_NAME}`)
    : postgresUrl;
  const kafkaPort = port(env, "FLUX_GATE_KAFKA_PORT", DEFAULTS.kafka.port[topology]);
  // Each node takes two ports: its broker's, then its controller's.
  const kafkaNodes = Array.from({ length: scaled ? 3 : 1 }, (_, n) => ({
    id: n + 1,
    port: kafkaPort + 2 * n,
    controllerPort: kafkaPort + 2 * n + 1,
  }));

  return {
    mode,
    topology,
    defaultedSecrets,
    shortSecrets,
    home: resolve(cwd, env.FLUX_GATE_HOME ?? DEFAULTS.home),
    listenHost: env.FLUX_GATE_LISTEN_HOST ?? DEFAULTS.listenHost,
    regions,
    redis: { appendFsync, users: redisUsers, passwords: redisPasswords },
    postgres: {
      url: postgresUrl,
      external: env.DATABASE_URL !== undefined,
      port: postgresPort,
      poolUrl,
      pooled: scaled,
      poolPort,
    },
    kafka: {
      brokers: list(env.KAFKA_BROKERS) ?? kafkaNodes.map((n) => `127.0.0.1:${n.port}`),
      external: env.KAFKA_BROKERS !== undefined,
      nodes: kafkaNodes,
      partitions: positiveInt(env, "FLUX_GATE_KAFKA_PARTITIONS", DEFAULTS.kafka.partitions[topology]),
      replicationFactor: scaled ? 3 : 1,
      minInsyncReplicas: scaled ? 2 : 1,
      heapMb: positiveInt(env, "FLUX_GATE_KAFKA_HEAP_MB", DEFAULTS.kafka.heapMb),
    },
    core: {
      outboxLimit: positiveInt(env, "FLUX_GATE_OUTBOX_LIMIT", DEFAULTS.core.outboxLimit),
      redisTimeoutMs: positiveInt(env, "FLUX_GATE_REDIS_TIMEOUT_MS", DEFAULTS.core.redisTimeoutMs),
      replicaWaitMs: wholeNumber(env, "FLUX_GATE_REPLICA_WAIT_MS", DEFAULTS.core.replicaWaitMs[topology]),
      sweepIntervalMs: positiveInt(env, "FLUX_GATE_SWEEP_INTERVAL_MS", DEFAULTS.core.sweepIntervalMs),
      retentionMs: retention(env, mode),
      retentionIntervalMs: positiveInt(env, "FLUX_GATE_RETENTION_INTERVAL_MS", DEFAULTS.core.retentionIntervalMs),
      maxBodyBytes: positiveInt(env, "FLUX_GATE_MAX_BODY_BYTES", DEFAULTS.core.maxBodyBytes),
      testHalt: testHalt(env, "FLUX_GATE_TEST_CORE_HALT", ["allocation-applied", "batch-half-applied"] as const),
    },
    admin: adminSettings(env, regionIds, defaultedSecrets),
    edge: edgeSettings(env, mode, regionIds, orderIdSecret),
  };
}

/**
 * The shortest retention production accepts: allocation change ids are forgotten with ended
 * orders, and a change stays applicable until its deadline (the admin's 3 s call and the 30 s
 * signature skew, admin/inventory/cores.ts); forgetting one sooner could let it apply twice.
 */
export const MIN_RETENTION_MS = 60_000;

function retention(env: Env, mode: Config["mode"]): number {
  const ms = positiveInt(env, "FLUX_GATE_ORDER_RETENTION_MS", DEFAULTS.core.retentionMs);
  if (mode === "production" && ms < MIN_RETENTION_MS)
    throw new ConfigError(
      `FLUX_GATE_ORDER_RETENTION_MS must be at least ${MIN_RETENTION_MS} in production: an allocation change must be remembered past its deadline`,
    );
  return ms;
}
