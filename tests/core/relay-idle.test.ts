/**
 * The idle relay blocks on the pending set (BZMPOP) instead of polling Redis every 20 ms: it
 * costs a few commands a second, still publishes an entry written while it waits at once, and
 * after its blocking connection drops, or when Redis refuses the blocking read.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { RedisClient } from "bun";
import { startRelay, type Relay } from "../../core/relay/relay.ts";
import { parseInfo } from "../../core/reservation/redis-info.ts";
import { RegionStore } from "../../core/reservation/store.ts";
import type { IdempotentProducer, OutgoingMessage } from "../../shared/kafka.ts";
import { productKeys } from "../../shared/keys.ts";
import type { RespSend } from "../../shared/lua.ts";
import { connectRedis, type Redis } from "../../shared/redis.ts";
import { waitUntil } from "../../stack/process.ts";
import { ownRedis, saleRules } from "../support/helpers.ts";

const REGION = "test-relay-idle";

/** A producer that keeps what Kafka would have been sent. */
function memoryProducer(sent: OutgoingMessage[]): () => Promise<IdempotentProducer> {
  return async () => ({
    send: async (_topic, messages) => void sent.push(...messages),
    disconnect: async () => {},
  });
}

/** Every command Redis ran since the last RESETSTAT. */
async function commandsRun(redis: Redis): Promise<number> {
  const stats = parseInfo(await redis.info("commandstats"));
  return Object.entries(stats)
    .filter(([name]) => name.startsWith("cmdstat_") && name !== "cmdstat_info" && name !== "cmdstat_config")
    .reduce((n, [, value]) => n + Number(/calls=(\d+)/.exec(value)?.[1] ?? 0), 0);
}

describe("the idle relay", () => {
  let server: Awaited<ReturnType<typeof ownRedis>>;
  let redis: Redis;
  let store: RegionStore;
  let blocking: RedisClient;
  let errors: unknown[];
  const send: RespSend = ([name, ...args]) => blocking.send(String(name), args.map(String));

  async function product(productId: string) {
    await store.activate(saleRules("relay-idle", { productId, perUserLimit: 100_000, maxPerOrder: 1 }));
    await store.allocation.allocate(productId, "initial", 1_000);
  }
  const reserve = async (productId: string) => {
    const orderId = crypto.randomUUID();
    const outcome = await store.reserve({ orderId, userId: "buyer", productId, quantity: 1, originRegion: REGION });
    expect(outcome.ok).toBe(true);
    return orderId;
  };
  const start = (sent: OutgoingMessage[], options: Partial<Parameters<typeof startRelay>[0]> = {}): Relay =>
    startRelay({
      outbox: store.outbox,
      topic: "unused",
      connect: memoryProducer(sent),
      walkIntervalMs: 60_000,
      waitForNotes: (timeoutMs) => store.outbox.waitPending(send, timeoutMs),
      onError: (error) => errors.push(error),
      ...options,
    });
  /** How long until `sent` holds `orderId`, in ms (or Infinity past `withinMs`). */
  const publishedWithin = async (sent: OutgoingMessage[], orderId: string, withinMs: number) => {
    const t0 = performance.now();
    return (await waitUntil(async () => sent.some((m) => m.key === orderId), withinMs, 5))
      ? performance.now() - t0
      : Number.POSITIVE_INFINITY;
  };

  beforeAll(async () => {
    server = await ownRedis();
    redis = connectRedis(server.url);
    store = new RegionStore(redis, REGION, 100_000);
    blocking = new RedisClient(server.url, { autoReconnect: true, maxRetries: 1_000 });
    await blocking.connect();
    await product("idle-a");
    await product("idle-b");
  }, 30_000);
  afterAll(async () => {
    blocking.close();
    redis.disconnect();
    await server.stop();
  }, 30_000);

  test("costs a few commands a second, and publishes an entry written while it waits at once", async () => {
    errors = [];
    const sent: OutgoingMessage[] = [];
    const relay = start(sent);
    const first = await reserve("idle-a");
    expect(await publishedWithin(sent, first, 2_000)).toBeLessThan(2_000);
    await Bun.sleep(300);

    await redis.config("RESETSTAT");
    await Bun.sleep(2_000);
    // Polling every 20 ms ran ≥ 200 (the lease, the pending set, each twice a round); blocking:
    // about one wait, one lease and one take a second.
    expect(await commandsRun(redis)).toBeLessThan(20);

    // Written while the relay waits: out within the linger, not the wait.
    const second = await reserve("idle-b");
    expect(await publishedWithin(sent, second, 2_000)).toBeLessThan(300);
    await relay.stop();
    expect(errors).toEqual([]);
  }, 30_000);

  test("after its blocking connection drops, still publishes what was written meanwhile", async () => {
    errors = [];
    const sent: OutgoingMessage[] = [];
    const relay = start(sent);
    await Bun.sleep(300);
    const blocked = async () => /id=(\d+) [^\n]*cmd=bzmpop/.exec(String(await redis.call("CLIENT", "LIST")))?.[1];
    expect(await waitUntil(async () => (await blocked()) !== undefined, 3_000, 20)).toBe(true);
    await redis.call("CLIENT", "KILL", "ID", (await blocked())!);
    const orderId = await reserve("idle-a");
    expect(await publishedWithin(sent, orderId, 3_000)).toBeLessThan(1_500);
    // It blocks again once its client has reconnected.
    expect(await waitUntil(async () => (await blocked()) !== undefined, 3_000, 20)).toBe(true);
    const next = await reserve("idle-b");
    expect(await publishedWithin(sent, next, 2_000)).toBeLessThan(300);
    await relay.stop();
    expect(errors.length).toBeGreaterThan(0);
  }, 30_000);

  test("notes a dropped wait took and never answered with are found by the next round's walk", async () => {
    errors = [];
    const sent: OutgoingMessage[] = [];
    let drops = 1;
    // The first wait takes the note from Redis, then its connection "drops" before the answer.
    const relay = start(sent, {
      waitForNotes: async (timeoutMs) => {
        const noted = await store.outbox.waitPending(send, timeoutMs);
        if (noted.length > 0 && drops-- > 0) throw new Error("Connection closed");
        return noted;
      },
    });
    await Bun.sleep(300);
    const orderId = await reserve("idle-b");
    expect(await publishedWithin(sent, orderId, 3_000)).toBeLessThan(1_500);
    await relay.stop();
    expect(errors.map(String)).toEqual(["Error: Connection closed"]);
  }, 30_000);

  test("a Redis user that may not block: the relay polls, as before", async () => {
    errors = [];
    const sent: OutgoingMessage[] = [];
    let waits = 0;
    const relay = start(sent, {
      waitForNotes: async () => {
        waits++;
        throw new Error("NOPERM User flux-gate-core has no permissions to run the 'bzmpop' command");
      },
    });
    const orderId = await reserve("idle-a");
    expect(await publishedWithin(sent, orderId, 2_000)).toBeLessThan(500);
    await Bun.sleep(200);
    const another = await reserve("idle-b");
    expect(await publishedWithin(sent, another, 2_000)).toBeLessThan(300);
    await relay.stop();
    // Asked once, reported once.
    expect(waits).toBe(1);
    expect(errors.length).toBe(1);
  }, 30_000);

  test("stop() waits out the wait under way (no wait is left behind to take notes) and publishes what is left", async () => {
    errors = [];
    const sent: OutgoingMessage[] = [];
    const relay = start(sent, { walkIntervalMs: 100 });
    await Bun.sleep(300);
    // Written behind the relay's back (no note): a walk finds it.
    const outbox = productKeys(REGION, "idle-a").outbox;
    await redis.xadd(outbox, "*", "order", "unnoted", "event", "{}");
    const t0 = performance.now();
    await relay.stop();
    expect(performance.now() - t0).toBeLessThan(1_500);
    expect(sent.map((m) => m.key)).toContain("unnoted");
    expect(await redis.xlen(outbox)).toBe(0);
  }, 30_000);
});
