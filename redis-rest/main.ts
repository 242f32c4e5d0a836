/**
 * A region's Upstash-protocol Redis REST adapter in front of its Redis.
 *   bun redis-rest/main.ts --region us-east
 */
import { loadConfig, redactUrl, redisUserSecrets, regionVariable, requireSecrets } from "../shared/config.ts";
import { logger } from "../shared/log.ts";
import { onShutdown, regionFromArgs } from "../shared/process.ts";
import { connectRegionRedis } from "../shared/redis.ts";
import { createRegistry } from "../shared/metrics.ts";
import { edgeAllowList } from "./allow-list.ts";
import { createRedisRestApp } from "./app.ts";

const config = loadConfig();
const region = regionFromArgs(config);
requireSecrets(config, [regionVariable("REDIS_REST_TOKEN", region.id), ...redisUserSecrets(config, "edge")]);
const log = logger("redis-rest", region.id);
// The edge's token, the edge's Redis user: what the token may do is checked here and again by Redis.
const redis = connectRegionRedis(region, region.redisUrlFor.edge, { commandTimeoutMs: config.core.redisTimeoutMs });
const app = createRedisRestApp({
  redis,
  token: region.redisRestToken,
  allow: edgeAllowList(region.id),
  registry: createRegistry("redis-rest", region.id),
});
const server = Bun.serve({ port: region.redisRestPort, hostname: config.listenHost, fetch: app.fetch });
log.info("listening", { url: region.redisRestUrl, redis: redactUrl(region.redisUrlFor.edge) });

onShutdown(async () => {
  await server.stop();
  redis.disconnect();
  log.info("stopped");
});
