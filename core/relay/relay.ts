/**
 * The outbox relay: moves order events from the region's Redis streams to its Kafka topic.
 * An entry is deleted only after Kafka acknowledged it (idempotent producer, acks=all), so a
 * crash at any point republishes from the first undeleted entry: at least once, in order per
 * product stream, and the worker ignores what it has already applied.
 */
import { productKeys } from "../../shared/keys.ts";
import type { IdempotentProducer, OutgoingMessage } from "../../shared/kafka.ts";
import type { RegionStore } from "../reservation/store.ts";

export interface RelayOptions {
  store: RegionStore;
  topic: string;
  /** Connects a producer; called again after a failure. */
  connect: () => Promise<IdempotentProducer>;
  /** Most entries read per stream per round. */
  batchSize?: number;
  /**
   * Pause after a round that did not fill a batch, so that the next one carries more: fewer,
   * larger produce requests cost Kafka and the relay less CPU (Kafka's own `linger.ms`).
   */
  lingerMs?: number;
  onError?: (error: unknown) => void;
  /** After each send Kafka acknowledged: how many events, in how many seconds. */
  onPublished?: (messages: number, seconds: number) => void;
}

export interface Relay {
  /** True while a producer is connected and the last publish worked. */
  healthy(): boolean;
  /** Publishes what is left (within `timeoutMs`), then stops. */
  stop(timeoutMs?: number): Promise<void>;
}

type StreamEntry = [id: string, fields: string[]];

function toMessage(fields: string[]): OutgoingMessage {
  const field = (name: string) => fields[fields.indexOf(name) + 1] ?? "";
  return { key: field("order"), value: field("event") };
}

export function startRelay({ store, topic, connect, batchSize = 1_000, lingerMs = 20, onError = () => {}, onPublished = () => {} }: RelayOptions): Relay {
  let producer: IdempotentProducer | undefined;
  let running = true;
  let healthy = false;
  let backoffMs = 0;

  /** Publishes one round across the region's products; returns the most it moved from one stream. */
  async function round(): Promise<number> {
    producer ??= await connect();
    const products = await store.products();
    if (products.length === 0) return 0;
    const outboxes = products.map((product) => productKeys(store.region, product).outbox);
    const pipeline = store.redis.pipeline();
    for (const key of outboxes) pipeline.xrange(key, "-", "+", "COUNT", batchSize);
    const results = (await pipeline.exec()) ?? [];
    const streams = outboxes
      .map((key, i) => ({ key, entries: (results[i]?.[1] ?? []) as StreamEntry[] }))
      .filter((s) => s.entries.length > 0);
    if (streams.length === 0) return 0;

    const messages = streams.flatMap((s) => s.entries.map(([, fields]) => toMessage(fields)));
    const started = performance.now();
    await producer.send(topic, messages);
    onPublished(messages.length, (performance.now() - started) / 1000);
    const trim = store.redis.pipeline();
    for (const s of streams) trim.xdel(s.key, ...s.entries.map(([id]) => id));
    await trim.exec();
    return Math.max(...streams.map((s) => s.entries.length));
  }

  const loop = (async () => {
    while (running) {
      try {
        const moved = await round();
        healthy = true;
        backoffMs = 0;
        if (moved < batchSize) await Bun.sleep(lingerMs);
      } catch (error) {
        healthy = false;
        onError(error);
        await producer?.disconnect().catch(() => {});
        producer = undefined;
        backoffMs = Math.min(Math.max(backoffMs * 2, 100), 2_000);
        await Bun.sleep(backoffMs);
      }
    }
  })();

  return {
    healthy: () => healthy,
    async stop(timeoutMs = 5_000) {
      running = false;
      await loop;
      const deadline = Date.now() + timeoutMs;
      try {
        while (Date.now() < deadline && (await round()) > 0);
      } catch (error) {
        onError(error);
      }
      await producer?.disconnect().catch(() => {});
    },
  };
}
