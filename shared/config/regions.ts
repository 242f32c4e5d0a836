/** Each region's services: where its Redis, cores, workers and REST adapter are, and their secrets. */
import { REDIS_COMPONENTS, type RedisComponent, urlAs } from "../redis-users.ts";
import { DEFAULTS, localUrl } from "./defaults.ts";
import { ConfigError, type Env, list, port, redisUrlVariable, regionVariable } from "./env.ts";
import type { Config, Instance, Region, Topology } from "./types.ts";

export function kafkaTopicFor(regionId: string): string {
  return `flux-gate.orders.${regionId}`;
}

export function regionSettings(
  env: Env,
  regionIds: string[],
  topology: Topology,
  secret: (name: string) => string | undefined,
  redis: Pick<Config["redis"], "users" | "passwords">,
): Region[] {
  const scaled = topology === "scaled";
  const firstRedisPort = port(env, "FLUX_GATE_REDIS_PORT", DEFAULTS.region.redisPort[topology]);
  const firstCorePort = port(env, "FLUX_GATE_CORE_PORT", DEFAULTS.region.corePort);
  const firstRedisRestPort = port(env, "FLUX_GATE_REDIS_REST_PORT", DEFAULTS.region.redisRestPort);
  const firstWorkerPort = port(env, "FLUX_GATE_WORKER_PORT", DEFAULTS.region.workerPort);
  const perRegion = scaled ? 2 : 1;
  /** Region `index`'s `n`th process of a kind: ports 10 apart, so regions' first ones stay side by side. */
  const instances = (first: number, index: number, variable: string): Instance[] => {
    const given = list(env[regionVariable(variable, regionIds[index]!)]);
    return Array.from({ length: perRegion }, (_, n) => first + index + 10 * n).map((p, n) => ({
      port: p,
      url: given?.[n] ?? localUrl(p),
    }));
  };
  return regionIds.map((id, index): Region => {
    // A cluster's six nodes (three masters, three replicas) per region, 10 ports apart per region.
    const redisPorts = scaled
      ? Array.from({ length: 6 }, (_, n) => firstRedisPort + 10 * index + n)
      : [firstRedisPort + index];
    const redisPort = redisPorts[0]!;
    const cores = instances(firstCorePort, index, "CORE_URL");
    const workers = instances(firstWorkerPort, index, "WORKER_URL");
    const external = env[redisUrlVariable(id)];
    const coreSecret = secret(regionVariable("CORE_SECRET", id));
    const adminSecret = secret(regionVariable("CORE_ADMIN_SECRET", id));
    const restToken = secret(regionVariable("REDIS_REST_TOKEN", id));
    const redisRestPort = firstRedisRestPort + index;
    const redisUrl = external ?? `redis://127.0.0.1:${redisPort}`;
    return {
      id,
      redisPort,
      redisUrl,
      redisUrlFor: Object.fromEntries(
        REDIS_COMPONENTS.map((c) => [c, redis.users ? urlAs(redisUrl, c, redis.passwords[c]) : redisUrl]),
      ) as Record<RedisComponent, string>,
      redisExternal: external !== undefined,
      redisCluster: scaled,
      redisPorts,
      kafkaTopic: kafkaTopicFor(id),
      deadLetterTopic: `${kafkaTopicFor(id)}.dead-letter`,
      corePort: cores[0]!.port,
      coreUrl: cores[0]!.url,
      cores,
      coreSecret: coreSecret ?? `development-only-core-secret-${id}`,
      coreAdminSecret: adminSecret ?? `development-only-core-admin-secret-${id}`,
      redisRestPort,
      redisRestUrl: env[regionVariable("REDIS_REST_URL", id)] ?? localUrl(redisRestPort),
      redisRestExternal: env[regionVariable("REDIS_REST_URL", id)] !== undefined,
      redisRestToken: restToken ?? `development-only-rest-token-${id}`,
      workerPort: workers[0]!.port,
      workerUrl: workers[0]!.url,
      workers,
    };
  });
}

export function regionById(config: Config, id: string): Region {
  const region = config.regions.find((r) => r.id === id);
  if (!region) {
    throw new ConfigError(`unknown region "${id}" (configured: ${config.regions.map((r) => r.id).join(", ")})`);
  }
  return region;
}
