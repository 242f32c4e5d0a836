/**
 * Kafka requests per order on the way from the relay to the worker, counted by API on the
 * clients (deterministic, unlike the shared broker's CPU), with the broker's and this process's
 * CPU beside them (noisy on a shared machine). A producer sends what `--rate` orders a second
 * leave in the outbox every `--linger` ms, one request per partition, as the relay does; a
 * worker-like group reads it (a handler that takes `--apply-ms`, like a PostgreSQL transaction);
 * `--mode old` adds the two allowance groups that read every region's topic, `new` their own
 * (empty) allowance topics.
 *
 *   bun bench/kafka-requests.ts [--mode new|old] [--rate 350] [--seconds 10] [--linger 20]
 */
import { readFileSync } from "node:fs";
import Connection from "kafkajs/src/network/connection.js";
import { commandLine } from "../shared/command-line.ts";
import { loadConfig } from "../shared/config.ts";
import { connectConsumer, connectProducer, ensureTopics, type FetchOptions } from "../shared/kafka.ts";

const cli = commandLine("bench/kafka-requests.ts", "usage: bun bench/kafka-requests.ts [--mode new|old] ...", {
  mode: { type: "string", default: "new" },
  rate: { type: "string", default: "350" },
  seconds: { type: "string", default: "10" },
  linger: { type: "string", default: "20" },
  "apply-ms": { type: "string", default: "5" },
});
const MODE = cli.values.mode;
const RATE = cli.count("rate", cli.values.rate);
const SECONDS = cli.count("seconds", cli.values.seconds);
const LINGER = cli.count("linger", cli.values.linger);
const APPLY_MS = Number(cli.values["apply-ms"]);

const counts = new Map<string, number>();
const send = Connection.prototype.send;
Connection.prototype.send = function (this: Connection, args: { request: { apiName: string } }) {
  const key = `${this.clientId} ${args.request.apiName}`;
  counts.set(key, (counts.get(key) ?? 0) + 1);
  return send.call(this, args);
};

const config = loadConfig();
const brokers = config.kafka.brokers;
const run = `${Date.now().toString(36)}`;
const topic = `flux-gate.bench-requests.${run}`;
const allowanceTopics = [0, 1].map((i) => `${topic}.allowance-${i}`);
await ensureTopics({ brokers, clientId: "setup" }, [
  { name: topic, partitions: config.kafka.partitions },
  ...allowanceTopics.map((name) => ({ name, partitions: config.kafka.partitions })),
]);

const old: FetchOptions = { minBytes: 1, maxWaitTimeMs: 5_000, maxBytesPerPartition: 1024 * 1024 };
let consumed = 0;
const worker = await connectConsumer({
  brokers,
  clientId: "worker",
  groupId: `${topic}.worker`,
  topics: [topic],
  ...(MODE === "old" ? { fetch: old } : {}),
});
const batches: number[] = [];
void worker.run(async (batch) => {
  await Bun.sleep(APPLY_MS);
  batches.push(batch.length);
  consumed += batch.length;
}, config.kafka.partitions);
const allowances = await Promise.all(
  allowanceTopics.map((t, i) =>
    connectConsumer({
      brokers,
      clientId: "allowance",
      groupId: `${topic}.allowance-${i}`,
      topics: MODE === "old" ? [topic] : [t],
      ...(MODE === "old" ? { fetch: old } : { fetch: { minBytes: 1, maxWaitTimeMs: 5_000 } }),
    }),
  ),
);
for (const a of allowances) void a.run(async () => {}, config.kafka.partitions);
await Bun.sleep(4_000);

const producer = await connectProducer({ brokers, clientId: "relay" });
const kafkaPid = Number(readFileSync(`${config.home}/run/kafka.pid`, "utf8"));
const ticks = (pid: number | "self") => {
  const s = readFileSync(`/proc/${pid}/stat`, "utf8");
  const f = s.slice(s.lastIndexOf(")") + 2).split(" ");
  return (Number(f[11]) + Number(f[12])) / 100;
};
counts.clear();
const before = { kafka: ticks(kafkaPid), self: ticks("self") };
const t0 = performance.now();
let produced = 0;
const value = JSON.stringify({ v: 1, type: "reserved", pad: "x".repeat(300) });
while (performance.now() - t0 < SECONDS * 1000) {
  const due = Math.floor(((performance.now() - t0) / 1000) * RATE) - produced;
  if (due > 0) {
    await producer.send(
      topic,
      Array.from({ length: due }, () => ({ key: crypto.randomUUID(), value })),
    );
    produced += due;
  }
  await Bun.sleep(LINGER);
}
while (consumed < produced && performance.now() - t0 < (SECONDS + 10) * 1000) await Bun.sleep(50);
const elapsed = (performance.now() - t0) / 1000;
const after = { kafka: ticks(kafkaPid), self: ticks("self") };
const perOrder = (n: number) => Number((n / produced).toFixed(3));
const byClient: Record<string, Record<string, number>> = {};
for (const [key, n] of [...counts].sort()) {
  const [client, api] = key.split(" ") as [string, string];
  const apis = byClient[client] ?? {};
  apis[api] = perOrder(n);
  byClient[client] = apis;
}
console.log(
  JSON.stringify({
    mode: MODE,
    rate: RATE,
    produced,
    consumed,
    seconds: Number(elapsed.toFixed(1)),
    requests_per_order: perOrder([...counts.values()].reduce((a, b) => a + b, 0)),
    requests_per_order_by_client: byClient,
    messages_per_batch: Number((batches.reduce((a, b) => a + b, 0) / Math.max(1, batches.length)).toFixed(1)),
    kafka_cpu_us_per_order: Math.round(((after.kafka - before.kafka) * 1e6) / produced),
    clients_cpu_us_per_order: Math.round(((after.self - before.self) * 1e6) / produced),
  }),
);
process.exit(0);
