/**
 * A region's core process: the HTTP API, the outbox relay, the expiry sweeper and the retention sweep.
 *   bun core/main.ts --region us-east [--instance 2]
 * A region's cores share its Redis; the one holding the relay lease publishes its outboxes.
 */
import { loadConfig, redisUserSecrets, regionVariable, requireSecrets } from "../shared/config.ts";
import { connectProducer } from "../shared/kafka.ts";
import { logger } from "../shared/log.ts";
import { instanceFromArgs, onShutdown, regionFromArgs } from "../shared/process.ts";
import { bunRedis } from "../shared/bun-redis.ts";
import { connectRegionRedis, sendWithin } from "../shared/redis.ts";
import { connectDatabase } from "../db/client.ts";
import { createRegistry } from "../shared/metrics.ts";
import { createCoreApp } from "./http/app.ts";
import { coreMetrics } from "./metrics.ts";
import { postgresRecords } from "./records.ts";
import { relayLease } from "./relay/lease.ts";
import { startRelay } from "./relay/relay.ts";
import { RegionStore } from "./reservation/store.ts";
import { startRetention } from "./retention/retention.ts";
import { startSweeper } from "./sweeper/sweeper.ts";

const config = loadConfig();
const region = regionFromArgs(config);
requireSecrets(config, [
  regionVariable("CORE_SECRET", region.id),
  regionVariable("CORE_ADMIN_SECRET", region.id),
  ...redisUserSecrets(config, "core"),
]);
const instance = instanceFromArgs(region.cores);
const log = logger("core", region.id);

const redis = connectRegionRedis(region, region.redisUrlFor.core, { commandTimeoutMs: config.core.redisTimeoutMs });
const { sql, db } = connectDatabase(config.postgres.url);
// Bun's own client on the request path knows no Redis Cluster: a cluster's goes through ioredis.
const requestPath = region.redisCluster
  ? { send: sendWithin(redis, config.core.redisTimeoutMs), close: () => {} }
  : bunRedis(region.redisUrlFor.core, config.core.redisTimeoutMs);
// The idle relay's blocking read holds a connection of its own, its deadline past the wait's.
const RELAY_IDLE_WAIT_MS = 1_000;
const relayBlocking = region.redisCluster
  ? (() => {
      const connection = connectRegionRedis(region, region.redisUrlFor.core, {
        commandTimeoutMs: RELAY_IDLE_WAIT_MS + config.core.redisTimeoutMs,
      });
      return {
        send: sendWithin(connection, RELAY_IDLE_WAIT_MS + config.core.redisTimeoutMs),
        close: () => connection.disconnect(),
      };
    })()
  : bunRedis(region.redisUrlFor.core, RELAY_IDLE_WAIT_MS + config.core.redisTimeoutMs);
const store = new RegionStore(redis, region.id, config.core.outboxLimit, requestPath.send, config.core.replicaWaitMs);
const registry = createRegistry("core", region.id);
const metrics = coreMetrics(registry, store);

const relay = startRelay({
  outbox: store.outbox,
  topic: region.kafkaTopic,
  connect: () => connectProducer({ brokers: config.kafka.brokers, clientId: `flux-gate-core-${region.id}` }),
  onError: (error) => log.warn("relay: failed, retrying", { error: String(error) }),
  onPublished: metrics.published,
  // A lease of a few seconds: a standby relay takes over that long after its holder died.
  lease: relayLease(store.command, region.id, `${region.id}-${instance.number}-${process.pid}`, 3_000),
  waitForNotes: (timeoutMs) => store.outbox.waitPending(relayBlocking.send, timeoutMs),
  idleWaitMs: RELAY_IDLE_WAIT_MS,
});
const sweeper = startSweeper(
  store,
  config.core.sweepIntervalMs,
  (error) => log.warn("sweeper failed", { error: String(error) }),
  metrics.expired,
);
const records = postgresRecords(db);
const retention = startRetention({
  store: store.retention,
  records,
  retentionMs: config.core.retentionMs,
  intervalMs: config.core.retentionIntervalMs,
  onError: (error) => log.warn("retention sweep failed, retrying", { error: String(error) }),
  onPass: metrics.forgotten,
});

const app = createCoreApp({
  store,
  records,
  secret: region.coreSecret,
  adminSecret: region.coreAdminSecret,
  maxBodyBytes: config.core.maxBodyBytes,
  testHalt: config.core.testHalt,
  ready: relay.healthy,
  metrics: { registry, reservation: metrics.reservation },
});
const server = Bun.serve({ port: instance.port, hostname: config.listenHost, fetch: app.fetch });
log.info("listening", { url: instance.url, port: server.port, instance: instance.number });

onShutdown(async () => {
  log.info("shutting down: finishing requests in flight, then flushing the outbox");
  await server.stop();
  await sweeper.stop();
  await retention.stop();
  await relay.stop();
  relayBlocking.close();
  redis.disconnect();
  requestPath.close();
  await sql.end({ timeout: 2 });
  log.info("stopped");
});
