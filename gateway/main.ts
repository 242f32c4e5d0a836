/**
 * A region's Upstash-protocol REST gateway in front of its Redis.
 *   bun gateway/main.ts --region us-east
 */
import { loadConfig, redactUrl, regionVariable, requireSecrets } from "../shared/config.ts";
import { logger, onShutdown, regionFromArgs } from "../shared/process.ts";
import { connectRedis } from "../shared/redis.ts";
import { createRegistry } from "../shared/metrics.ts";
import { createGatewayApp } from "./app.ts";

const config = loadConfig();
const region = regionFromArgs(config);
requireSecrets(config, [regionVariable("REDIS_REST_TOKEN", region.id)]);
const log = logger("gateway", region.id);
const redis = connectRedis(region.redisUrl, { commandTimeoutMs: config.core.redisTimeoutMs });
const app = createGatewayApp({ redis, token: region.redisRestToken, registry: createRegistry("gateway", region.id) });
const server = Bun.serve({ port: region.gatewayPort, hostname: config.listenHost, fetch: app.fetch });
log.info("listening", { url: region.redisRestUrl, redis: redactUrl(region.redisUrl) });

onShutdown(async () => {
  await server.stop();
  redis.disconnect();
  log.info("stopped");
});
