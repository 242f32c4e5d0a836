/**
 * The one description of a Flux-Gate deployment. Every component (stack, core, worker, edge,
 * tests) reads it from here, so a region, a port or a topic name is spelled in one place.
 *
 * Everything has a local default; the environment overrides it. A service whose URL is given
 * in the environment is "external": the local stack uses it and starts nothing of that kind.
 */
import { resolve } from "node:path";

export interface Region {
  id: string;
  /** Redis over TCP, for the region's core. */
  redisUrl: string;
  /** Set when REDIS_URL_<REGION> points at a Redis the stack does not run. */
  redisExternal: boolean;
  /** Port of the stack's own Redis for this region (unused when external). */
  redisPort: number;
  /** The region's order-event topic. */
  kafkaTopic: string;
}

export type AppendFsync = "always" | "everysec";

export interface Config {
  /** Data, logs and pid files of the local stack. */
  home: string;
  regions: Region[];
  redis: { appendFsync: AppendFsync };
  postgres: { url: string; external: boolean; port: number };
  kafka: {
    brokers: string[];
    external: boolean;
    port: number;
    controllerPort: number;
    partitions: number;
    heapMb: number;
  };
}

export class ConfigError extends Error {
  override name = "ConfigError";
}

type Env = Record<string, string | undefined>;

const REGION_ID = /^[a-z][a-z0-9-]{0,30}$/;
export const DEFAULT_REGIONS = ["us-east", "eu-west"];
export const DATABASE_NAME = "fluxgate";

/** `us-east` → `REDIS_URL_US_EAST`. */
export function redisUrlVariable(regionId: string): string {
  return `REDIS_URL_${regionId.toUpperCase().replaceAll("-", "_")}`;
}

export function kafkaTopicFor(regionId: string): string {
  return `flux-gate.orders.${regionId}`;
}

export function loadConfig(env: Env = process.env, cwd = process.cwd()): Config {
  const regionIds = list(env.FLUX_GATE_REGIONS) ?? DEFAULT_REGIONS;
  for (const id of regionIds) {
    if (!REGION_ID.test(id)) {
      throw new ConfigError(`FLUX_GATE_REGIONS: "${id}" is not a region id (lowercase letters, digits and dashes)`);
    }
  }
  if (new Set(regionIds).size !== regionIds.length) {
    throw new ConfigError(`FLUX_GATE_REGIONS lists a region twice: ${regionIds.join(",")}`);
  }

  const firstRedisPort = port(env, "FLUX_GATE_REDIS_PORT", 6380);
  const regions = regionIds.map((id, index): Region => {
    const redisPort = firstRedisPort + index;
    const external = env[redisUrlVariable(id)];
    return {
      id,
      redisPort,
      redisUrl: external ?? `redis://127.0.0.1:${redisPort}`,
      redisExternal: external !== undefined,
      kafkaTopic: kafkaTopicFor(id),
    };
  });

  const appendFsync = env.FLUX_GATE_REDIS_APPENDFSYNC ?? "everysec";
  if (appendFsync !== "always" && appendFsync !== "everysec") {
    throw new ConfigError(`FLUX_GATE_REDIS_APPENDFSYNC must be "always" or "everysec", not "${appendFsync}"`);
  }

  const postgresPort = port(env, "FLUX_GATE_PG_PORT", 5433);
  const kafkaPort = port(env, "FLUX_GATE_KAFKA_PORT", 9092);

  return {
    home: resolve(cwd, env.FLUX_GATE_HOME ?? ".flux-gate"),
    regions,
    redis: { appendFsync },
    postgres: {
      url: env.DATABASE_URL ?? `postgres://postgres@127.0.0.1:${postgresPort}/${DATABASE_NAME}`,
      external: env.DATABASE_URL !== undefined,
      port: postgresPort,
    },
    kafka: {
      brokers: list(env.KAFKA_BROKERS) ?? [`127.0.0.1:${kafkaPort}`],
      external: env.KAFKA_BROKERS !== undefined,
      port: kafkaPort,
      controllerPort: kafkaPort + 1,
      partitions: positiveInt(env, "FLUX_GATE_KAFKA_PARTITIONS", 3),
      heapMb: positiveInt(env, "FLUX_GATE_KAFKA_HEAP_MB", 512),
    },
  };
}

export function regionById(config: Config, id: string): Region {
  const region = config.regions.find((r) => r.id === id);
  if (!region) {
    throw new ConfigError(`unknown region "${id}" (configured: ${config.regions.map((r) => r.id).join(", ")})`);
  }
  return region;
}

function list(value: string | undefined): string[] | undefined {
  const items = value?.split(",").map((s) => s.trim()).filter(Boolean);
  return items && items.length > 0 ? items : undefined;
}

function positiveInt(env: Env, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value <= 0) {
    throw new ConfigError(`${name} must be a positive whole number, not "${raw}"`);
  }
  return value;
}

function port(env: Env, name: string, fallback: number): number {
  const value = positiveInt(env, name, fallback);
  if (value > 65535) throw new ConfigError(`${name} must be a TCP port (1-65535), not "${value}"`);
  return value;
}
