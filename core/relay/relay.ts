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
 *
 * Of a region's cores, only the one holding the relay lease (lease.ts) publishes.
 *
 * Idle, it costs next to nothing: once every outbox it read was empty, it blocks on the pending
 * set (`waitForNotes`, BZMPOP on a connection of its own) until a script notes an outbox, at most
 * `idleWaitMs` (the lease wants renewing, the walk its turn); with traffic it lingers between
 * rounds as before.
 */
import type { IdempotentProducer, OutgoingMessage } from "../../shared/kafka.ts";
import type { RegionOutbox } from "../reservation/outbox.ts";

export interface RelayOptions {
  outbox: RegionOutbox;
  topic: string;
  /** Connects a producer; called again after a failure. */
  connect: () => Promise<IdempotentProducer>;
  /** Most entries read per stream per round. */
  batchSize?: number;
  /**
   * Pause after a round that did not fill a batch, so that the next one carries more: fewer,
   * larger produce requests cost Kafka and the relay less CPU (Kafka's own `linger.ms`). Each
   * round sends one request per partition, so a region sends at most partitions × 1000 / lingerMs
   * requests a second whatever the rate. The order's 202 never waits on it (it is answered once
   * in the outbox); only the way to PostgreSQL does. 200 ms: at 350 orders/s a request carries
   * ~25 events instead of ~3.5 at 20 ms, Kafka's CPU per order ~240 µs instead of ~550
   * (bench/kafka-requests.ts --linger).
   */
  lingerMs?: number;
  onError?: (error: unknown) => void;
  /** After each send Kafka acknowledged: how many events, in how many seconds. */
  onPublished?: (messages: number, seconds: number) => void;
  /** Pause between two walks over every product of the region. */
  walkIntervalMs?: number;
  /** Takes or renews the region's relay lease: true while this relay may publish. Always, alone. */
  lease?: () => Promise<boolean>;
  /**
   * Blocks until a script notes an outbox or `timeoutMs` passed; the products noted
   * (RegionOutbox.waitPending on a connection of the relay's own). Without it, or once
   * Redis refused it (a Redis user without BZMPOP), the relay polls every `lingerMs`.
   */
  waitForNotes?: (timeoutMs: number) => Promise<string[]>;
  /** The longest wait for a note: well inside the lease's time, since each round renews it. */
  idleWaitMs?: number;
}

export interface Relay {
  /** True while a producer is connected and the last publish worked. */
  healthy(): boolean;
  /** Publishes what is left (within `timeoutMs`), then stops. */
  stop(timeoutMs?: number): Promise<void>;
}

/** The smallest stream id after `id` (`<ms>-<seq>`). Pure. */
export function nextStreamId(id: string): string {
  const [ms, seq] = id.split("-");
  return `${ms}-${BigInt(seq!) + 1n}`;
}

function toMessage(fields: string[]): OutgoingMessage {
  const field = (name: string) => fields[fields.indexOf(name) + 1] ?? "";
  return { key: field("order"), value: field("event") };
}

/** How often a relay without the lease asks for it: a standby takes over within the lease's time and this. */
const LEASE_POLL_MS = 1_000;

/** A reply that says the Redis user may not block (its ACL predates BZMPOP) or Redis has no BZMPOP (< 7). */
const cannotBlock = (error: unknown) => /NOPERM|unknown command/i.test(String(error));

export function startRelay({
  outbox,
  topic,
  connect,
  batchSize = 1_000,
  lingerMs = 200,
  walkIntervalMs = 10_000,
  lease = async () => true,
  waitForNotes,
  idleWaitMs = 1_000,
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
  let canBlock = waitForNotes !== undefined;
  let stopping = () => {};
  const stopped = new Promise<void>((resolve) => (stopping = resolve));

  /**
   * With no outbox left to read: waits for a note (true), or for nothing (false: the caller
   * lingers, polling). A wait cut short by a dropped connection may have taken notes it never
   * answered with: the next round walks every product for them.
   */
  async function waitIdle(): Promise<boolean> {
    if (!canBlock || !waitForNotes || active.size > 0) return false;
    try {
      // Never cut short: a wait left behind would take notes no one reads. stop() waits it out.
      const noted = await waitForNotes(idleWaitMs);
      for (const product of noted) active.add(product);
      return true;
    } catch (error) {
      if (!running) return true;
      walkedAt = Number.NEGATIVE_INFINITY;
      if (cannotBlock(error)) {
        canBlock = false;
        onError(new Error(`cannot block on the pending set, polling every ${lingerMs} ms instead: ${error}`));
      } else onError(error);
      return false;
    }
  }

  /** Publishes one round across the active outboxes; returns the most it moved from one stream. */
  async function round(): Promise<number> {
    producer ??= await connect();
    const walk = performance.now() - walkedAt >= walkIntervalMs;
    // Taken before the streams are read: an entry written after this read is noted again.
    for (const product of await outbox.takePending()) active.add(product);
    if (walk) {
      for (const bucket of await outbox.buckets()) active.add(bucket);
      walkedAt = performance.now();
    }
    if (active.size === 0) return 0;
    const products = [...active];
    const read = await outbox.entries(products, batchSize);
    const streams = products.map((product, i) => ({ product, entries: read[i]! }));
    const full = streams.filter((s) => s.entries.length > 0);

    if (full.length > 0) {
      const messages = full.flatMap((s) => s.entries.map(([, fields]) => toMessage(fields)));
      const started = performance.now();
      await producer.send(topic, messages);
      onPublished(messages.length, (performance.now() - started) / 1000);
    }
    // A stream read empty is noted again by the next script that writes to it. Of the others,
    // trims what Kafka has (every entry below the next id: ids only grow, and a range read from
    // the start holds all of them; whole stream nodes go at once, where XDEL leaves them until
    // their last entry goes), then asks what is left.
    for (const s of streams) if (s.entries.length === 0) active.delete(s.product);
    const left = await outbox.trim(
      full.map((s) => ({ productId: s.product, below: nextStreamId(s.entries.at(-1)![0]) })),
    );
    for (const [i, s] of full.entries()) if (left[i] === 0) active.delete(s.product);
    return Math.max(0, ...full.map((s) => s.entries.length));
  }

  const loop = (async () => {
    while (running) {
      try {
        if (!(await lease())) {
          // Another core's relay publishes; this one stands by, healthy, to take over.
          healthy = true;
          active.clear();
          walkedAt = Number.NEGATIVE_INFINITY;
          await Promise.race([Bun.sleep(LEASE_POLL_MS), stopped]);
          continue;
        }
        const moved = await round();
        healthy = true;
        backoffMs = 0;
        if (moved >= batchSize) continue;
        // Idle: block until a note. Noted (or still busy): linger, so the next round carries more.
        if (await waitIdle()) {
          if (active.size > 0 && running) await Bun.sleep(lingerMs);
        } else await Bun.sleep(lingerMs);
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
      stopping();
      await loop;
      const deadline = Date.now() + timeoutMs;
      try {
        while (Date.now() < deadline && (await lease()) && (await round()) > 0);
      } catch (error) {
        onError(error);
      }
      await producer?.disconnect().catch(() => {});
    },
  };
}
