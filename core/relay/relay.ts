/**
 * The outbox relay: moves order events from the region's Redis streams to its Kafka topic.
 * An entry is deleted only after Kafka acknowledged it (idempotent producer, acks=all), so a
 * crash at any point republishes from the first undeleted entry: at least once, in order per
 * product stream, and the worker ignores what it has already applied.
 *
 * It reads only the outboxes that may hold entries: those the region's pending set names (a
 * script that wrote to an empty outbox has its caller add the product) and those it has not
 * seen empty since. A walk over every product at the start and every `walkIntervalMs` finds
 * what a core that died between a script and its note left behind.
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
  /** Pause between two walks over every product of the region. */
  walkIntervalMs?: number;
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

export function startRelay({
  store,
  topic,
  connect,
  batchSize = 1_000,
  lingerMs = 20,
  walkIntervalMs = 10_000,
  onError = () => {},
  onPublished = () => {},
}: RelayOptions): Relay {
  let producer: IdempotentProducer | undefined;
  let running = true;
  let healthy = false;
  let backoffMs = 0;
  /** Products whose outbox this relay has not yet seen empty. */
  const active = new Set<string>();
  let walkedAt = Number.NEGATIVE_INFINITY;

  /** Publishes one round across the active outboxes; returns the most it moved from one stream. */
  async function round(): Promise<number> {
    producer ??= await connect();
    const walk = performance.now() - walkedAt >= walkIntervalMs;
    // Taken before the streams are read: an entry written after this read is noted again.
    for (const product of await store.takePendingOutboxes()) active.add(product);
    if (walk) {
      for (const product of await store.products()) active.add(product);
      walkedAt = performance.now();
    }
    if (active.size === 0) return 0;
    const products = [...active];
    const outboxes = products.map((product) => productKeys(store.region, product).outbox);
    const read = store.redis.pipeline();
    for (const key of outboxes) read.xrange(key, "-", "+", "COUNT", batchSize);
    const results = (await read.exec()) ?? [];
    const streams = outboxes.map((key, i) => ({ key, product: products[i]!, entries: (results[i]?.[1] ?? []) as StreamEntry[] }));
    const full = streams.filter((s) => s.entries.length > 0);

    if (full.length > 0) {
      const messages = full.flatMap((s) => s.entries.map(([, fields]) => toMessage(fields)));
      const started = performance.now();
      await producer.send(topic, messages);
      onPublished(messages.length, (performance.now() - started) / 1000);
    }
    // Deleted what Kafka has, then asked what is left: a stream seen empty here is noted
    // again by the next script that writes to it.
    const trim = store.redis.pipeline();
    for (const s of streams) {
      if (s.entries.length > 0) trim.xdel(s.key, ...s.entries.map(([id]) => id));
      trim.xlen(s.key);
    }
    const replies = (await trim.exec()) ?? [];
    let at = 0;
    for (const s of streams) {
      if (s.entries.length > 0) at++; // XDEL's reply
      if (Number(replies[at++]?.[1]) === 0) active.delete(s.product);
    }
    return Math.max(0, ...full.map((s) => s.entries.length));
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
