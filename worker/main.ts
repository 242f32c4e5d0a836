/**
 * A region's worker: consumes the region's order topic and applies it to PostgreSQL, and gives
 * the buyers homed in the region their allowance back when an order of theirs ends unsold.
 *   bun worker/main.ts --region us-east [--instance 2]
 * A region's workers are one consumer group: they share its partitions.
 */
import { loadConfig, redisUserSecrets, requireSecrets } from "../shared/config.ts";
import {
  allowanceTopicFor,
  connectConsumer,
  connectProducer,
  consumerGroups,
  ensureTopics,
  lagReader,
} from "../shared/kafka.ts";
import { createRegistry } from "../shared/metrics.ts";
import { logger } from "../shared/log.ts";
import { instanceFromArgs, onShutdown, regionFromArgs, untilConnected } from "../shared/process.ts";
import { connectDatabase } from "../db/client.ts";
import { createWorkerApp } from "./http.ts";
import { workerMetrics } from "./metrics.ts";
import { connectRegionRedis } from "../shared/redis.ts";
import { allowanceHandler } from "./allowance.ts";
import { batchHandler, STUCK_AFTER_MS, untilApplied } from "./batch.ts";

const config = loadConfig();
const region = regionFromArgs(config);
const instance = instanceFromArgs(region.workers);
requireSecrets(config, redisUserSecrets(config, "worker"));
const log = logger("worker", region.id);
const kafka = { brokers: config.kafka.brokers, clientId: `flux-gate-worker-${region.id}` };

const { worker: groupId, allowance: allowanceGroup } = consumerGroups(region.id);
const { sql, db } = connectDatabase(config.postgres.poolUrl, { pooled: config.postgres.pooled });
const redis = connectRegionRedis(region, region.redisUrlFor.worker);
const registry = createRegistry("worker", region.id);
const lag = lagReader(kafka, groupId, region.kafkaTopic);
const metrics = workerMetrics(registry, lag.read);
let consuming = false;
// Up before Kafka is: a worker waiting out an outage still answers /health and says why it is not ready.
const server = Bun.serve({
  port: instance.port,
  hostname: config.listenHost,
  fetch: createWorkerApp({
    registry,
    // Kafka counts as up while the group's offsets can be read, not merely once it was joined.
    ready: async () => ({
      kafka:
        consuming &&
        (await lag.read().then(
          () => true,
          () => false,
        )),
      postgres: await sql`select 1`.then(
        () => true,
        () => false,
      ),
      redis: await redis.ping().then(
        (r) => r === "PONG",
        () => false,
      ),
    }),
  }).fetch,
});
/** A batch hangs (batch.ts, STUCK_AFTER_MS): exit, so that a fresh process takes the partitions. */
function exitStuck(): never {
  log.error("a batch waited on PostgreSQL or Redis without an answer: exiting for a fresh start", {
    stuckAfterMs: STUCK_AFTER_MS,
  });
  process.exit(1);
}

const regionIds = config.regions.map((r) => r.id);
// Every home's allowance topic: this worker feeds them all (a new region's appears here first).
await untilConnected(
  "creating the allowance topics",
  () =>
    ensureTopics(
      kafka,
      regionIds.map((id) => ({ name: allowanceTopicFor(id), partitions: config.kafka.partitions })),
      config.kafka,
    ),
  log,
);
const producer = await untilConnected(
  "connecting the producer (dead letters, allowance feed)",
  () => connectProducer(kafka),
  log,
);
const consumer = await untilConnected(
  "joining the consumer group",
  () => connectConsumer({ ...kafka, groupId, topics: [region.kafkaTopic] }),
  log,
);

await consumer.run(
  batchHandler({
    db,
    producer,
    deadLetterTopic: region.deadLetterTopic,
    regionIds,
    onRetry: (error, attempt) => log.warn("batch not applied, retrying", { attempt, error: String(error) }),
    onStuck: exitStuck,
    onApplied: (outcome) => {
      metrics.batch(outcome);
      if (outcome.deadLettered > 0)
        log.warn("dead-lettered messages", { applied: outcome.applied, deadLettered: outcome.deadLettered });
    },
  }),
  config.kafka.partitions,
);

// Buyers homed here get their allowance back when an order of theirs ends unsold, in any region:
// every region's worker feeds this home's allowance topic with just those events. The topic holds
// nothing else, and giving back twice removes nothing: a new group reads it from the start.
const releaseAllowances = allowanceHandler({ redis, region: region.id, regionIds });
const allowanceTopic = allowanceTopicFor(region.id);
const allowance = await untilConnected(
  "joining the allowance group",
  () =>
    connectConsumer({
      ...kafka,
      groupId: allowanceGroup,
      topics: [allowanceTopic],
      fromBeginning: true,
      // Few messages, each a buyer waiting for their allowance: a fetch answers at the first one.
      fetch: { minBytes: 1, maxWaitTimeMs: 5_000 },
    }),
  log,
);
await allowance.run(
  (batch, context) =>
    untilApplied(
      context,
      (error, attempt) => log.warn("allowances not given back, retrying", { attempt, error: String(error) }),
      { onStuck: exitStuck },
      () => releaseAllowances(batch),
    ),
  config.kafka.partitions,
);
consuming = true;
log.info("consuming", {
  topic: region.kafkaTopic,
  allowances: allowanceTopic,
  metrics: `${instance.url}/metrics`,
});

onShutdown(async () => {
  await server.stop();
  await consumer.disconnect();
  await allowance.disconnect();
  redis.disconnect();
  await lag.close();
  await producer.disconnect();
  await sql.end({ timeout: 2 });
  log.info("stopped");
});
