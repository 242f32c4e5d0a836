import { afterAll, expect, test } from "bun:test";
import { join } from "node:path";
import {
  connectConsumer,
  connectProducer,
  ensureTopics,
  topicPartitions,
  type GroupConsumer,
  type IncomingMessage,
} from "../../shared/kafka.ts";
import { config, uniqueName } from "../support/helpers.ts";

const brokers = config.kafka.brokers;
const closers: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const close of closers.reverse()) await close();
}, 30_000);

test("each region's order topic and its dead-letter topic exist on the broker with the configured partitions", async () => {
  const names = config.regions.flatMap((r) => [r.kafkaTopic, r.deadLetterTopic]);
  const partitions = await topicPartitions({ brokers, clientId: "smoke" }, names);
  expect(partitions).toEqual(Object.fromEntries(names.map((name) => [name, config.kafka.partitions])));
});

test("an idempotent producer (acks=all) round-trips through a consumer group, in order per key", async () => {
  const topic = uniqueName("smoke");
  await ensureTopics({ brokers, clientId: "smoke" }, [{ name: topic, partitions: 3 }]);

  const producer = await connectProducer({ brokers, clientId: "smoke-producer" });
  closers.push(() => producer.disconnect());
  const keys = ["order-a", "order-b", "order-c", "order-d"];
  const sent = keys.flatMap((key) => [1, 2, 3].map((step) => ({ key, value: `${key}:${step}` })));
  await producer.send(topic, sent.slice(0, 6));
  await producer.send(topic, sent.slice(6));

  const received: IncomingMessage[] = [];
  let consumer: GroupConsumer | undefined;
  consumer = await connectConsumer({
    brokers,
    clientId: "smoke-consumer",
    groupId: uniqueName("smoke"),
    topics: [topic],
  });
  closers.push(() => consumer!.disconnect());
  await new Promise<void>((done, fail) => {
    consumer!
      .run(async (batch) => {
        received.push(...batch);
        if (received.length >= sent.length) done();
      })
      .catch(fail);
  });

  expect(received).toHaveLength(sent.length);
  for (const key of keys) {
    const values = received.filter((m) => m.key === key).map((m) => m.value);
    expect(values).toEqual([`${key}:1`, `${key}:2`, `${key}:3`]);
  }
  // One key lands on one partition: the order of one order's events is kept.
  for (const key of keys) {
    expect(new Set(received.filter((m) => m.key === key).map((m) => m.partition)).size).toBe(1);
  }
}, 60_000);

test("an idle connection does not re-arm kafkajs's throttle timer with a negative delay (no TimeoutNegativeWarning)", async () => {
  const topic = uniqueName("smoke-idle");
  await ensureTopics({ brokers, clientId: "smoke" }, [{ name: topic, partitions: 1 }]);
  const child = Bun.spawnSync(
    [process.execPath, join(import.meta.dir, "fixtures/idle-producer.ts"), brokers.join(","), topic],
    { stdin: "ignore", timeout: 30_000 },
  );
  expect(child.exitCode).toBe(0);
  expect(child.stderr.toString()).not.toContain("TimeoutNegativeWarning");
}, 40_000);
