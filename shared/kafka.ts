/**
 * The only module that imports a Kafka client. Everything else speaks in these small types, so
 * replacing kafkajs (e.g. with @platformatic/kafka) means rewriting this file alone.
 *
 * kafkajs 2.2.4 is unmaintained but works on Bun against Kafka 4.x, idempotent producer and
 * consumer groups included (see tests/smoke/kafka.test.ts), with one fix applied below.
 */
import {
  Kafka,
  logLevel,
  Partitioners,
  type Consumer,
  type Message,
  type PartitionMetadata,
  type Producer,
} from "kafkajs";
import RequestQueue from "kafkajs/src/network/requestQueue/index.js";

/**
 * kafkajs's request queue re-arms its throttle check forever on an idle connection: with no
 * throttle, "when" is -1 minus now, a negative delay that timers run after 1 ms, so every broker
 * connection wakes a thousand times a second (3.6% of a core for one idle producer here) and the
 * process prints TimeoutNegativeWarning (tulios/kafkajs#1751, unfixed upstream). The check is
 * armed only when a request waits or a throttle ends later; `push` arms it when one starts to
 * wait, as upstream's proposed fix does.
 */
const scheduleCheck = RequestQueue.prototype.scheduleCheckPendingRequests;
RequestQueue.prototype.scheduleCheckPendingRequests = function (this: InstanceType<typeof RequestQueue>) {
  if (this.pending.length === 0 && this.throttledUntil <= Date.now()) return;
  scheduleCheck.call(this);
};

export interface OutgoingMessage {
  key: string;
  value: string;
  headers?: Record<string, string>;
}

export interface IncomingMessage {
  topic: string;
  partition: number;
  offset: string;
  key: string | null;
  value: string | null;
  headers: Record<string, string>;
}

export interface KafkaOptions {
  brokers: string[];
  clientId: string;
  /** Per-request network timeout; nothing waits on Kafka longer than this. */
  requestTimeoutMs?: number;
}

export interface IdempotentProducer {
  /** Resolves once every in-sync replica has the batch (acks = all). */
  send(topic: string, messages: OutgoingMessage[]): Promise<void>;
  disconnect(): Promise<void>;
}

export interface BatchContext {
  /** Keeps the group membership alive while a batch takes long (e.g. retrying a database). */
  heartbeat(): Promise<void>;
}

export interface GroupConsumer {
  /**
   * Calls `handle` for each batch of one partition, up to `concurrency` partitions at once.
   * A batch's offsets are committed only after `handle` resolves; if it throws, the batch is
   * delivered again.
   */
  run(handle: (batch: IncomingMessage[], context: BatchContext) => Promise<void>, concurrency?: number): Promise<void>;
  disconnect(): Promise<void>;
}

function client({ brokers, clientId, requestTimeoutMs = 10_000 }: KafkaOptions): Kafka {
  return new Kafka({
    brokers,
    clientId,
    connectionTimeout: 3_000,
    requestTimeout: requestTimeoutMs,
    logLevel: logLevel.NOTHING,
    retry: { retries: 5, initialRetryTime: 200 },
  });
}

const UUID = /^[0-9a-f]{8}-/i;

/**
 * Keys that are UUIDs (order ids) go by their first 32 bits: random, so the spread is even,
 * and stable per key, so one order's events stay in order. kafkajs's murmur2 in JavaScript
 * costs the relay more CPU than the request path; other keys still get it.
 */
const uuidPartitioner = () => {
  const fallback = Partitioners.DefaultPartitioner();
  return (args: Parameters<ReturnType<typeof Partitioners.DefaultPartitioner>>[0]) => {
    // The producer names each message's partition itself (see `connectProducer`).
    if (args.message.partition !== undefined) return args.message.partition;
    const key = args.message.key;
    if (typeof key === "string" && UUID.test(key))
      return Number.parseInt(key.slice(0, 8), 16) % args.partitionMetadata.length;
    return fallback(args);
  };
};

/**
 * Messages per produce request. kafkajs groups a request's messages by partition in quadratic
 * time, so one huge request costs more than a few moderate ones.
 */
const MESSAGES_PER_REQUEST = 250;

/**
 * `idempotent: false` is kafkajs's default producer (acks = all still, but no sequence numbers
 * and no limit on requests in flight): only the benchmark's textbook comparator uses it.
 *
 * Each request carries one partition's messages. kafkajs 2.2.4 keeps the answers of the brokers
 * that took a request across its retries, and after a leader change does not send again the
 * partitions that moved to one of them: `send` resolves, and those messages were never written
 * (tulios/kafkajs#1303; seen here: kill -9 of one of three brokers lost 19 of 2,550 acknowledged
 * messages). A request for one partition has one leader, so its retry goes to the new one.
 */
export async function connectProducer(options: KafkaOptions, { idempotent = true } = {}): Promise<IdempotentProducer> {
  const producer: Producer = client(options).producer({
    ...(idempotent ? { idempotent: true, maxInFlightRequests: 1 } : {}),
    createPartitioner: uuidPartitioner,
  });
  await producer.connect();
  const partitionOf = uuidPartitioner();
  /** Topic → its partitions' metadata as the partitioner reads it (a count is all it needs). */
  const layouts = new Map<string, PartitionMetadata[]>();
  const layout = async (topic: string) => {
    let partitions = layouts.get(topic);
    if (!partitions) {
      const count = (await topicPartitions(options, [topic]))[topic] ?? 1;
      partitions = Array.from({ length: count }, (_, partitionId) => ({
        partitionErrorCode: 0,
        partitionId,
        leader: 0,
        replicas: [],
        isr: [],
      }));
      layouts.set(topic, partitions);
    }
    return partitions;
  };
  return {
    async send(topic, messages) {
      const partitionMetadata = await layout(topic);
      const byPartition = new Map<number, Message[]>();
      for (const message of messages.map(toKafkaMessage)) {
        const partition = partitionOf({ topic, partitionMetadata, message });
        const batch = byPartition.get(partition) ?? [];
        batch.push({ ...message, partition });
        byPartition.set(partition, batch);
      }
      // Partitions side by side (each in order): the leaders of several work at once.
      await Promise.all(
        [...byPartition.values()].map(async (batch) => {
          for (let i = 0; i < batch.length; i += MESSAGES_PER_REQUEST) {
            await producer.send({ topic, acks: -1, messages: batch.slice(i, i + MESSAGES_PER_REQUEST) });
          }
        }),
      );
    },
    disconnect: () => producer.disconnect(),
  };
}

/**
 * How much a fetch waits to gather. kafkajs's defaults (minBytes 1) answer a fetch as soon as one
 * message is there: at a few hundred orders a second every produce request woke every group's
 * fetch, and every batch of a few messages cost the broker an offset commit (a write to
 * __consumer_offsets). Waiting up to `maxWaitTimeMs` for `minBytes` makes each fetch, batch and
 * commit carry many messages; the price is that much latency on the way to PostgreSQL.
 */
export interface FetchOptions {
  /** The broker answers once it has this much for the request's partitions (or the wait ran out). */
  minBytes?: number;
  /** Longest a fetch waits for `minBytes`. */
  maxWaitTimeMs?: number;
  /** Most one partition returns per fetch: an upper bound on a batch. */
  maxBytesPerPartition?: number;
}

/**
 * A fetch that finds nothing costs a round of the consumer's loop and the broker's: a short wait
 * (200 ms tried) made the idle system busier than the flat-out orders saved. Half a second, as
 * Kafka's own consumer, bounds the latency a trickle of orders sees on its way to PostgreSQL.
 */
export const DEFAULT_FETCH: Required<FetchOptions> = {
  minBytes: 64 * 1024,
  maxWaitTimeMs: 500,
  maxBytesPerPartition: 4 * 1024 * 1024,
};

type OffsetToCommit = { topic: string; partition: number; offset: string };

/**
 * Offset commits shared by the batches that finish while one is in flight: each batch waits for
 * the commit that carries its offset (so a batch is done only once its offset is committed, as
 * before), and the partitions consumed side by side cost one OffsetCommit request, not one each.
 */
export function commitCoalescer(commit: (offsets: OffsetToCommit[]) => Promise<void>) {
  let next: { offsets: Map<string, OffsetToCommit>; done: Promise<void> } | undefined;
  let inFlight: Promise<void> = Promise.resolve();
  return (offset: OffsetToCommit): Promise<void> => {
    if (!next) {
      const offsets = new Map<string, OffsetToCommit>();
      const done = inFlight.then(() => {
        next = undefined;
        return commit([...offsets.values()]);
      });
      next = { offsets, done };
      inFlight = done.catch(() => {});
    }
    const key = `${offset.topic}:${offset.partition}`;
    const known = next.offsets.get(key);
    if (!known || BigInt(offset.offset) > BigInt(known.offset)) next.offsets.set(key, offset);
    return next.done;
  };
}

export async function connectConsumer(
  options: KafkaOptions & { groupId: string; topics: string[]; fromBeginning?: boolean; fetch?: FetchOptions },
): Promise<GroupConsumer> {
  const fetch = { ...DEFAULT_FETCH, ...options.fetch };
  // A member that died without leaving holds its partitions until its session times out: keep
  // that short, so a crashed worker's replacement takes over within seconds. A heartbeat is how
  // the living members learn of a rebalance; every 3 s (Kafka's own default; each one costs the
  // idle system a request per group) still lets them in well within the session.
  const consumer: Consumer = client(options).consumer({
    groupId: options.groupId,
    sessionTimeout: 10_000,
    heartbeatInterval: 3_000,
    minBytes: fetch.minBytes,
    maxWaitTimeInMs: fetch.maxWaitTimeMs,
    maxBytesPerPartition: fetch.maxBytesPerPartition,
  });
  await consumer.connect();
  await consumer.subscribe({ topics: options.topics, fromBeginning: options.fromBeginning ?? true });
  const commit = commitCoalescer((offsets) => consumer.commitOffsets(offsets));
  return {
    run: (handle, concurrency = 1) =>
      consumer.run({
        autoCommit: false,
        eachBatchAutoResolve: false,
        partitionsConsumedConcurrently: concurrency,
        eachBatch: async ({ batch, resolveOffset, heartbeat }) => {
          if (batch.messages.length === 0) return;
          await handle(
            batch.messages.map((m) => ({
              topic: batch.topic,
              partition: batch.partition,
              offset: m.offset,
              key: m.key?.toString() ?? null,
              value: m.value?.toString() ?? null,
              headers: decodeHeaders(m.headers),
            })),
            { heartbeat },
          );
          resolveOffset(batch.lastOffset());
          // With autoCommit off, kafkajs commits nothing by itself; the committed offset is
          // the next one to read.
          await commit({
            topic: batch.topic,
            partition: batch.partition,
            offset: (BigInt(batch.lastOffset()) + 1n).toString(),
          });
        },
      }),
    disconnect: () => consumer.disconnect(),
  };
}

/**
 * The topic of a home region's allowance feed: the expiry and cancel events of the buyers homed
 * there, whichever region served them, written by every region's worker (worker/allowance.ts)
 * and read by the home's allowance consumer alone.
 */
export const allowanceTopicFor = (homeRegionId: string) => `flux-gate.allowance.${homeRegionId}`;

/** A region's consumer groups: the worker that persists its orders, and the allowance consumer of buyers homed there. */
export const consumerGroups = (regionId: string) => ({
  worker: `flux-gate-worker.${regionId}`,
  allowance: `flux-gate-allowance.${regionId}`,
});

/**
 * Moves a consumer group to the end of `topics`, skipping what it has not read: for the bench,
 * whose region's topic may hold what earlier runs left. The group must have no member running.
 */
export async function skipToEnd(options: KafkaOptions, groupId: string, topics: string[]): Promise<void> {
  const admin = client(options).admin();
  await admin.connect();
  try {
    // resetOffsets would commit -1 ("latest"), which a group reads as no commit at all.
    for (const topic of topics) {
      const ends = await admin.fetchTopicOffsets(topic);
      await admin.setOffsets({
        groupId,
        topic,
        partitions: ends.map((end) => ({ partition: end.partition, offset: end.high })),
      });
    }
  } finally {
    await admin.disconnect();
  }
}

/**
 * Creates the topics that do not exist yet, each with its partitions and, on several brokers, its
 * copies and how many a write needs; existing ones are left as they are.
 */
export async function ensureTopics(
  options: KafkaOptions,
  topics: { name: string; partitions: number }[],
  { replicationFactor = 1, minInsyncReplicas = 1 } = {},
): Promise<void> {
  const admin = client(options).admin();
  await admin.connect();
  try {
    const existing = new Set(await admin.listTopics());
    const missing = topics.filter((t) => !existing.has(t.name));
    if (missing.length === 0) return;
    await admin.createTopics({
      waitForLeaders: true,
      topics: missing.map((t) => ({
        topic: t.name,
        numPartitions: t.partitions,
        replicationFactor,
        configEntries: [{ name: "min.insync.replicas", value: String(minInsyncReplicas) }],
      })),
    });
  } finally {
    await admin.disconnect();
  }
}

/**
 * Reads a consumer group's lag on a topic (high watermark minus committed offset, per
 * partition) over one admin connection, opened on first use and again after a failure.
 */
export function lagReader(options: KafkaOptions, groupId: string, topic: string) {
  let admin: ReturnType<Kafka["admin"]> | undefined;
  return {
    async read(): Promise<{ partition: number; lag: number }[]> {
      try {
        if (!admin) {
          admin = client({ ...options, requestTimeoutMs: 2_000 }).admin({ retry: { retries: 0 } });
          await admin.connect();
        }
        const [ends, [committed]] = await Promise.all([
          admin.fetchTopicOffsets(topic),
          admin.fetchOffsets({ groupId, topics: [topic] }),
        ]);
        return ends.map((end) => {
          const offset = Number(committed?.partitions.find((p) => p.partition === end.partition)?.offset ?? -1);
          // No commit yet: everything from the start of the log is still to read.
          return { partition: end.partition, lag: Number(end.high) - (offset < 0 ? Number(end.low) : offset) };
        });
      } catch (error) {
        await admin?.disconnect().catch(() => {});
        admin = undefined;
        throw error;
      }
    },
    close: () => admin?.disconnect(),
  };
}

/** A consumer group as its coordinator sees it: `Stable` once its members share the partitions. */
export async function groupState(options: KafkaOptions, groupId: string): Promise<{ state: string; members: number }> {
  const admin = client(options).admin();
  await admin.connect();
  try {
    const { groups } = await admin.describeGroups([groupId]);
    return { state: groups[0]?.state ?? "Dead", members: groups[0]?.members.length ?? 0 };
  } finally {
    await admin.disconnect();
  }
}

/** The broker's own word on topics: each one's partition count, or absent if it has none. */
export async function topicPartitions(options: KafkaOptions, names: string[]): Promise<Record<string, number>> {
  const admin = client(options).admin();
  await admin.connect();
  try {
    const existing = new Set(await admin.listTopics());
    const { topics } = await admin.fetchTopicMetadata({ topics: names.filter((n) => existing.has(n)) });
    return Object.fromEntries(topics.map((t) => [t.name, t.partitions.length]));
  } finally {
    await admin.disconnect();
  }
}

/** True when the cluster answers a metadata request. */
export async function kafkaIsReady(options: KafkaOptions): Promise<boolean> {
  const admin = client({ ...options, requestTimeoutMs: 2_000 }).admin({ retry: { retries: 0 } });
  try {
    await admin.connect();
    await admin.describeCluster();
    return true;
  } catch {
    return false;
  } finally {
    await admin.disconnect().catch(() => {});
  }
}

function toKafkaMessage(m: OutgoingMessage) {
  return { key: m.key, value: m.value, headers: m.headers };
}

function decodeHeaders(headers: Record<string, unknown> | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers ?? {})) {
    if (value !== undefined) out[name] = String(value);
  }
  return out;
}
