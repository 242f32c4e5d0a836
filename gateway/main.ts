/**
 * A region's Upstash-protocol REST gateway in front of its Redis.
 *   bun gateway/main.ts --region us-east
 */
import { loadConfig, redactUrl, redisUserSecrets, regionVariable, requireSecrets } from "../shared/config.ts";
import { logger, onShutdown, regionFromArgs } from "../shared/process.ts";
import { connectRedis } from "../shared/redis.ts";
import { createRegistry } from "../shared/metrics.ts";
import { edgeAllowList } from "./allow-list.ts";
import { createGatewayApp } from "./app.ts";

const config = loadConfig();
const region = regionFromArgs(config);
requireSecrets(config, [regionVariable("REDIS_REST_TOKEN", region.id), ...redisUserSecrets(config, "edge")]);
const log = logger("gateway", region.id);
// The edge's token, the edge's Redis user: what the token may do is checked here and again by Redis.
const redis = connectRedis(region.redisUrlFor.edge, { commandTimeoutMs: config.core.redisTimeoutMs });
const app = createGatewayApp({
  redis,
  token: region.redisRestToken,
  allow: edgeAllowList(region.id),
  registry: createRegistry("gateway", region.id),
});
const server = Bun.serve({ port: region.gatewayPort, hostname: config.listenHost, fetch: app.fetch });
log.info("listening", { url: region.redisRestUrl, redis: redactUrl(region.redisUrlFor.edge) });

onShutdown(async () => {
  await server.stop();
  redis.disconnect();
  log.info("stopped");
});
