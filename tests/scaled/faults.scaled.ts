/**
 * The scaled topology under faults: the whole system as `npm start -- --topology scaled` runs it
 * (per region a Redis Cluster, two cores and two workers; three Kafka nodes; PgBouncer), a sale
 * with retrying buyers, and one fault in the middle of it. After each: every accepted order in
 * PostgreSQL, nothing oversold, `verify` clean.
 *
 * Run by `npm run test:scaled` (FLUX_GATE_TOPOLOGY=scaled), not by `npm test`: its stack is
 * three more JVMs and twelve Redis servers.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { coreClient, reach } from "../../core/http/client.ts";
import { loadConfig } from "../../shared/config.ts";
import { connectConsumer, connectProducer, ensureTopics, type IdempotentProducer } from "../../shared/kafka.ts";
import { productKeys } from "../../shared/keys.ts";
import { connectRedis } from "../../shared/redis.ts";
import { signRequest } from "../../shared/signing.ts";
import { claimRun, startApps, stopApps, type App, type AppState } from "../../stack/apps.ts";
import { waitUntil } from "../../stack/process.ts";
import { redisServiceName } from "../../stack/services/redis.ts";
import { stackStatus, stackUp } from "../../stack/stack.ts";
import { scaledSale } from "./sale.ts";

// Apart from the ports a developer's `npm start` uses; the children read them from the environment.
Object.assign(process.env, {
  FLUX_GATE_EDGE_PORT: "18080",
  FLUX_GATE_EDGE_METRICS_PORT: "18090",
  FLUX_GATE_ADMIN_PORT: "18300",
  FLUX_GATE_CORE_PORT: "18101",
  FLUX_GATE_WORKER_PORT: "18401",
  FLUX_GATE_REDIS_REST_PORT: "18201",
});
const config = loadConfig();
const [usEast] = config.regions;
const sale = scaledSale(config);
let apps: App[] = [];
let run: AppState;

const app = (name: string) => apps.find((a) => a.name === name)!;
const pidOf = async (service: string) => (await stackStatus(config)).find((s) => s.name === service)?.pid;

beforeAll(async () => {
  if (config.topology !== "scaled") throw new Error("run these with npm run test:scaled (FLUX_GATE_TOPOLOGY=scaled)");
  run = claimRun(config);
  apps = await startApps(config, run, () => {});
  // Up is not ready: a worker is ready once it consumes, its allowance group joined too (a group
  // new to the cluster starts at the end of the topics: what ended before it would not count).
  const ready = (url: string) =>
    fetch(`${url}/ready`).then(
      (r) => r.ok,
      () => false,
    );
  const workers = config.regions.flatMap((r) => r.workers.map((w) => w.url));
  await waitUntil(async () => (await Promise.all(workers.map(ready))).every(Boolean), 60_000, 250);
}, 180_000);

afterAll(async () => {
  await stopApps(apps);
  run?.release();
  await sale.close();
}, 60_000);

/** The port of the master that holds `key`'s slot in `region`'s cluster. */
async function masterOf(key: string): Promise<number> {
  const redis = connectRedis(usEast!.redisUrl, { reconnect: false });
  try {
    await redis.connect();
    const slot = Number(await redis.call("CLUSTER", "KEYSLOT", key));
    const shards = (await redis.call("CLUSTER", "SLOTS")) as [number, number, [string, number]][];
    const [, , [, port]] = shards.find(([from, to]) => slot >= from && slot <= to)!;
    return port;
  } finally {
    redis.disconnect();
  }
}

test("on a Redis Cluster, a buyer's allowance comes back when an order of theirs expires unsold (the worker's release)", async () => {
  const productId = await sale.product(10, { perUserLimit: 1, holdSeconds: 1 });
  const order = (key: string) =>
    fetch(`${config.edge.url}/v1/orders`, {
      method: "POST",
      headers: {
        "Content-Type": "application/json",
        "Idempotency-Key": key,
        "X-User-Id": `allowance-${productId}`,
        "CF-IPCountry": "US",
      },
      body: JSON.stringify({ productId, quantity: 1 }),
    }).then(async (r) => ({ status: r.status, code: ((await r.json()) as { code?: string }).code }));
  expect((await order(crypto.randomUUID())).status).toBe(202);
  expect(await order(crypto.randomUUID())).toEqual({ status: 409, code: "user_limit_exceeded" });
  // The hold runs out, the sweeper expires it, the worker of the buyer's home region gives the unit back.
  // Each try with a key of its own, slow enough for the buyer's rate limit.
  expect(await waitUntil(async () => (await order(crypto.randomUUID())).status === 202, 30_000, 1_500)).toBe(true);
}, 60_000);

test("kill -9 of a Kafka node while the producer sends: every message it acknowledged is in the topic", async () => {
  const kafka = { brokers: config.kafka.brokers, clientId: "scaled-test" };
  const topic = `scaled-test-${Date.now().toString(36)}`;
  await ensureTopics(kafka, [{ name: topic, partitions: 6 }], config.kafka);
  const acknowledged: string[] = [];
  let producer: IdempotentProducer | undefined;
  /** As the relay does: a failed send is sent again, with a new producer. Returns how many went. */
  const sendFor = async (ms: number, enough: number) => {
    const [until, from] = [Date.now() + ms, acknowledged.length];
    while (Date.now() < until && acknowledged.length - from < enough) {
      const batch = Array.from({ length: 50 }, () => ({ key: crypto.randomUUID(), value: "x" }));
      try {
        producer ??= await connectProducer(kafka);
        await producer.send(topic, batch);
        acknowledged.push(...batch.map((m) => m.key));
      } catch {
        await producer?.disconnect().catch(() => {});
        producer = undefined;
      }
    }
    return acknowledged.length - from;
  };
  // Sending before the kill, then while the cluster moves the dead node's partitions, then after.
  expect(await sendFor(20_000, 500)).toBeGreaterThanOrEqual(500);
  process.kill((await pidOf("kafka-3"))!, "SIGKILL");
  expect(await sendFor(30_000, 1_000)).toBeGreaterThan(0);
  await producer?.disconnect();
  const seen = new Set<string>();
  const consumer = await connectConsumer({ ...kafka, groupId: `${topic}-reader`, topics: [topic] });
  void consumer.run(async (messages) => {
    for (const m of messages) seen.add(m.key!);
  });
  await waitUntil(async () => acknowledged.every((key) => seen.has(key)), 30_000, 250);
  await consumer.disconnect();
  await stackUp(config);
  expect(acknowledged.filter((key) => !seen.has(key))).toEqual([]);
}, 90_000);

describe("the scaled topology under faults", () => {
  test("kill -9 of a Redis master: its replica takes over; no acknowledged order lost, nothing oversold", async () => {
    const productId = await sale.product(150);
    const port = await masterOf(productKeys(usEast!.id, productId).product);
    const node = redisServiceName(usEast!, usEast!.redisPorts.indexOf(port));
    const outcome = await sale.run({
      productId,
      buyers: 500,
      fault: async () => {
        process.kill((await pidOf(node))!, "SIGKILL");
        // Its replica is promoted within seconds; the old master comes back (as a process
        // supervisor would bring it) as the new master's replica, so acknowledged writes have
        // a copy again (WAIT 1).
        await Bun.sleep(6_000);
        await stackUp(config);
      },
    });
    expect(await masterOf(productKeys(usEast!.id, productId).product)).not.toBe(port);
    expect(outcome.failed).toEqual([]);
    expect(outcome.accepted.length).toBeGreaterThan(0);
    expect(await sale.check(productId, outcome.accepted)).toEqual({ lost: [], oversold: 0, drifts: [] });
  }, 180_000);

  test("kill -9 of a Kafka broker: nothing lost, and no answer at the edge waits 10 s", async () => {
    const productId = await sale.product(150);
    const outcome = await sale.run({
      productId,
      buyers: 500,
      fault: async () => void process.kill((await pidOf("kafka-2"))!, "SIGKILL"),
    });
    expect(outcome.failed).toEqual([]);
    expect(outcome.slowestMs).toBeLessThan(10_000);
    expect(await sale.check(productId, outcome.accepted)).toEqual({ lost: [], oversold: 0, drifts: [] });
    await stackUp(config);
  }, 180_000);

  test("PgBouncer restarted mid-sale: the workers and the admin API carry on; nothing lost", async () => {
    const productId = await sale.product(150);
    const [pgbouncer] = (await stackStatus(config)).filter((s) => s.name === "pgbouncer");
    expect(pgbouncer?.state).toBe("running");
    const outcome = await sale.run({
      productId,
      buyers: 500,
      fault: async () => {
        process.kill(pgbouncer!.pid!, "SIGTERM");
        await waitUntil(async () => !(await pidOf("pgbouncer")), 10_000, 100);
        await stackUp(config);
      },
    });
    expect(outcome.failed).toEqual([]);
    expect(await sale.check(productId, outcome.accepted)).toEqual({ lost: [], oversold: 0, drifts: [] });
    // The admin API reads through PgBouncer too: it answers after the restart.
    const health = await fetch(`${config.admin.url}/v1/products/${productId}`, {
      headers: { Authorization: "Bearer development-only-admin-token" },
    });
    expect(health.status).toBe(200);
  }, 180_000);

  test("kill -9 of one of a region's two workers: the other takes its partitions; nothing lost, nothing twice", async () => {
    const productId = await sale.product(150);
    const outcome = await sale.run({
      productId,
      buyers: 500,
      fault: async () => app(`worker-${usEast!.id}-2`).kill(),
    });
    expect(outcome.failed).toEqual([]);
    // The dead member's partitions move once its session times out (10 s).
    expect(await sale.check(productId, outcome.accepted, 120_000)).toEqual({ lost: [], oversold: 0, drifts: [] });
  }, 240_000);

  test("kill -9 of one of a region's two cores: the edge moves to the other; a retry of an order the dead core accepted gets it back", async () => {
    const productId = await sale.product(150);
    const [first] = usEast!.cores;
    // An order the first core accepted, asked of that core alone.
    const reservation = {
      orderId: crypto.randomUUID(),
      userId: "scaled-retry",
      productId,
      quantity: 1,
      originRegion: usEast!.id,
    };
    const reserveAt = async (url: string) => {
      const body = JSON.stringify(reservation);
      const headers = {
        "Content-Type": "application/json",
        ...signRequest(usEast!.coreSecret, "POST", "/v1/reservations", body),
      };
      const response = await fetch(`${url}/v1/reservations`, { method: "POST", headers, body });
      return { status: response.status, body: (await response.json()) as { orderId?: string; replayed?: boolean } };
    };
    expect((await reserveAt(first!.url)).status).toBe(202);

    const outcome = await sale.run({
      productId,
      buyers: 500,
      fault: async () => app(`core-${usEast!.id}`).kill(),
    });
    expect(await fetch(`${first!.url}/health`).catch(() => "down")).toBe("down");
    expect(outcome.failed).toEqual([]);
    // The retry, through the client the edge calls cores with, finds the first core refusing
    // and reaches the other, which answers with the same order.
    const cores = coreClient(usEast!, { timeoutMs: 2_000 });
    for (let i = 0; i < 2; i++) {
      const retried = await reach(() => cores.v1.reservations.$post({ json: reservation }));
      expect(retried).toMatchObject({
        kind: "answer",
        status: 202,
        body: { orderId: reservation.orderId, replayed: true },
      });
    }
    expect(await sale.check(productId, [...outcome.accepted, reservation.orderId], 60_000)).toEqual({
      lost: [],
      oversold: 0,
      drifts: [],
    });
  }, 180_000);
});
