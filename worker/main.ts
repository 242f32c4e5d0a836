/**
 * A region's worker: consumes the region's order topic and applies it to PostgreSQL.
 *   bun worker/main.ts --region us-east
 */
import { loadConfig } from "../shared/config.ts";
import { connectConsumer, connectProducer } from "../shared/kafka.ts";
import { logger, onShutdown, regionFromArgs, untilConnected } from "../shared/process.ts";
import { connectDatabase } from "../db/client.ts";
import { batchHandler } from "./worker.ts";

const config = loadConfig();
const region = regionFromArgs(config);
const log = logger("worker", region.id);
const kafka = { brokers: config.kafka.brokers, clientId: `flux-gate-worker-${region.id}` };

const { sql, db } = connectDatabase(config.postgres.url);
const producer = await untilConnected("connecting the dead-letter producer", () => connectProducer(kafka), log);
const consumer = await untilConnected(
  "joining the consumer group",
  () => connectConsumer({ ...kafka, groupId: `flux-gate-worker.${region.id}`, topics: [region.kafkaTopic] }),
  log,
);

await consumer.run(
  batchHandler({
    db,
    producer,
    deadLetterTopic: region.deadLetterTopic,
    onRetry: (error, attempt) => log.warn("batch not applied, retrying", { attempt, error: String(error) }),
    onApplied: (applied, deadLettered) => {
      if (deadLettered > 0) log.warn("dead-lettered messages", { applied, deadLettered });
    },
  }),
  config.kafka.partitions,
);
log.info("consuming", { topic: region.kafkaTopic });

onShutdown(async () => {
  await consumer.disconnect();
  await producer.disconnect();
  await sql.end({ timeout: 2 });
  log.info("stopped");
});
