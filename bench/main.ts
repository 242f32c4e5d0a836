/**
 * `npm run bench [-- --json] [-- --seconds N]`: the core's reservation throughput and latency
 * against a bare baseline measured in the same run (one product, and 1,000 products at once),
 * the edge's orders against a naive comparator (bench/naive-server.ts: the textbook
 * API, one process awaiting rate limit, idempotency, stock and an acks=all Kafka send in turn),
 * the worker's persistence rate, and Redis's bytes per live and per ended order (bench/memory.ts).
 *
 * `npm run bench -- --core-only`: the baseline and the core's runs alone (a faster loop).
 * `npm run bench -- --pipeline-only`: the baseline and the pipeline run (bench/pipeline.ts: the
 * whole system as `npm start` runs it, idle, flat out and at a fixed rate, each process's CPU
 * per order that reached PostgreSQL) alone. The full run ends with the pipeline run too.
 * `npm run bench -- --topology scaled`: instead, bench/scaled.ts on the scaled topology.
 * `npm run bench -- --soak [--orders N]`: instead, N orders (1,000,000) through one core with a
 * short retention, Redis's memory after every tenth of them.
 *
 * Uses the running stack, or brings one up (and stops what it started). The benchmark runs in
 * a region of its own, `bench`, with a Redis of its own that is started fresh and deleted at
 * the end, so no run measures the leftovers of another.
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { count, inArray } from "drizzle-orm";
import { connectDatabase } from "../db/client.ts";
import { commandLine } from "../shared/command-line.ts";
import { orders, products } from "../db/schema.ts";
import { inventoryServices } from "../admin/inventory/services.ts";
import { loadConfig, regionById, regionVariable, TOPOLOGIES } from "../shared/config.ts";
import { allowanceTopicFor, consumerGroups, ensureTopics, skipToEnd } from "../shared/kafka.ts";
import { productKeys } from "../shared/keys.ts";
import { connectRedis } from "../shared/redis.ts";
import { livePid, waitUntil } from "../stack/process.ts";
import { redisServices } from "../stack/services/redis.ts";
import { stackPaths } from "../stack/services/service.ts";
import { stackDown, stackUp } from "../stack/stack.ts";
import { measureCpu } from "./cpu.ts";
import { coreReservation, edgeOrder, runLoad, type LoadResult } from "./load.ts";
import { lineChartSvg } from "./chart.ts";
import { ratio } from "./pipeline-cpu.ts";
import { pipelineChartSvg, pipelineRows, type PipelineFigures } from "./pipeline-report.ts";
import { memoryPerOrder, soak, usedMemory, type MemoryBench } from "./memory.ts";
import { runCrowd } from "../demo/crowd.ts";
import { benchScaled } from "./scaled.ts";

const USAGE = `usage: npm run bench [-- --json] [--seconds N] [--core-only | --edge-only | --pipeline-only | --soak [--orders N] | --topology scaled | --wan [--wan-delay-ms N]]

  --json         the report as JSON (medians and ratios to the baseline measured in the run)
  --seconds N    seconds per load run (10)
  --core-only    the baseline and the core's runs alone
  --edge-only    the baseline and the edge's runs alone (a core behind it, not measured)
  --pipeline-only
                 the baseline and the pipeline run alone: npm start's system, CPU per order by process
  --idle-seconds N
                 the pipeline run's idle phase (20)
  --soak         N orders through one core, Redis's memory after every tenth (an SVG chart)
  --orders N     the soak's orders (1000000)
  --topology scaled
                 instead, the scaled topology: reservations per second and each Redis master's
                 load with one bucket and three, with WAIT 1 and without; the worker's rate
                 with one consumer and two (docs/capacity.md)
  --wan          instead, the simulated WAN (npm start -- --wan, started if nothing runs): near-home
                 and far-home buyers' latency and inter-region round trips per order, as
                 npm run demo -- --wan measures them (docs/capacity.md#the-wan-simulated)
  --wan-delay-ms N
                 with --wan: the one-way delay between regions (35)`;
const cli = commandLine("bench", USAGE, {
  json: { type: "boolean", default: false },
  seconds: { type: "string", default: "10" },
  soak: { type: "boolean", default: false },
  "core-only": { type: "boolean", default: false },
  "edge-only": { type: "boolean", default: false },
  "pipeline-only": { type: "boolean", default: false },
  "idle-seconds": { type: "string", default: "20" },
  orders: { type: "string", default: "1000000" },
  topology: { type: "string" },
  wan: { type: "boolean", default: false },
  "wan-delay-ms": { type: "string" },
});
const flags = cli.values;
const SECONDS = cli.count("seconds", flags.seconds);
if (flags.wan) {
  // The demo's WAN run is the measurement: one code path for the figures docs/capacity.md shows.
  const delay = flags["wan-delay-ms"] === undefined ? [] : ["--wan-delay-ms", flags["wan-delay-ms"]];
  const demo = Bun.spawn([process.execPath, join(import.meta.dir, "../demo/main.ts"), "--wan", "--json", ...delay], {
    stdout: "pipe",
    stderr: "inherit",
    env: { ...process.env, FLUX_GATE_ENV: process.env.FLUX_GATE_ENV ?? "development" },
  });
  const [out, code] = await Promise.all([new Response(demo.stdout).text(), demo.exited]);
  if (code !== 0) process.exit(code);
  const { wan } = JSON.parse(out) as { wan: Record<string, unknown> };
  console.log(flags.json ? JSON.stringify({ wan }) : JSON.stringify(wan, null, 2));
  process.exit(0);
}
if (flags.topology && cli.oneOf("topology", flags.topology, TOPOLOGIES) === "scaled") {
  await benchScaled({ seconds: SECONDS, json: flags.json });
  process.exit(0);
}
const SOAK_ORDERS = cli.count("orders", flags.orders);
const IDLE_SECONDS = cli.count("idle-seconds", flags["idle-seconds"]);
const CONNECTIONS = 100;
/** The latency runs offer these shares of the baseline's throughput measured in the run. */
const CORE_FIXED_SHARE = 0.4;
const EDGE_FIXED_SHARE = 0.15;
/** Products on sale at once in the many-products run. */
const MANY_PRODUCTS = 1_000;
/** The waiting room's run: its admissions per second, how long the crowd (ten times that) arrives, its units. */
const ROOM_RATE = 30;
const ROOM_ARRIVAL_SECONDS = 5;
const ROOM_UNITS = 240;
/** Orders of each kind in the memory run. */
const MEMORY_ORDERS = 50_000;
/** A retention short enough for the memory runs (the default is 15 minutes). */
const SHORT_RETENTION = { FLUX_GATE_ORDER_RETENTION_MS: "2000", FLUX_GATE_RETENTION_INTERVAL_MS: "500" };
/** The soak's: the last ten seconds of orders (tens of thousands) stay live in Redis, the rest leave tombstones. */
const SOAK_RETENTION = { FLUX_GATE_ORDER_RETENTION_MS: "10000", FLUX_GATE_RETENTION_INTERVAL_MS: "1000" };
const ROOT = join(import.meta.dir, "..");
const progress = (message: string) => console.error(`bench: ${message}`);

const REGION = "bench";
// The bench runs on the local stack's development defaults.
process.env.FLUX_GATE_ENV ??= "development";
const base = loadConfig();
const benchEnv = {
  ...process.env,
  FLUX_GATE_REGIONS: [...base.regions.map((r) => r.id), REGION].join(","),
  FLUX_GATE_CORE_PORT: "18300",
  FLUX_GATE_REDIS_REST_PORT: "18400",
  FLUX_GATE_EDGE_PORT: "18500",
  // The edge with rate limiting and idempotency on, limits high enough never to refuse.
  FLUX_GATE_DEV_IDENTITY: "1",
  FLUX_GATE_RATE_LIMIT_USER: "100000000/10s",
  FLUX_GATE_RATE_LIMIT_IP: "100000000/10s",
  // Measure the reservation path, not load shedding: the relay's lag is reported instead.
  FLUX_GATE_OUTBOX_LIMIT: "100000000",
};
const config = loadConfig(benchEnv);
const region = regionById(config, REGION);
const BASELINE_PORT = region.corePort + 50;
const NAIVE_PORT = region.corePort + 60;
// The naive comparator's orders get a topic of their own: on the region's topic the worker
// would dead-letter them (they are not order events) while its rate is being measured.
const NAIVE_TOPIC = `${region.kafkaTopic}.naive`;

function spawn(argv: string[], env: Record<string, string> = {}) {
  return Bun.spawn([process.execPath, ...argv], {
    cwd: ROOT,
    env: { ...benchEnv, ...env },
    stdout: "ignore",
    stderr: "inherit",
  });
}

function peakRssMb(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, "utf8")
    .split("\n")
    .find((l) => l.startsWith("VmHWM:"));
  return Math.round(Number(line?.split(/\s+/)[1] ?? 0) / 1024);
}

const t0 = performance.now();
const { started } = await stackUp(base, (service, message) => progress(`${service} ${message}`));
const benchRedis = redisServices(config, region)[0]!;
await benchRedis.stop();
rmSync(stackPaths(config).data(`redis-${REGION}`), { recursive: true, force: true });
await benchRedis.start(() => {});
const kafka = { brokers: config.kafka.brokers, clientId: "bench" };
await ensureTopics(
  kafka,
  [region.kafkaTopic, region.deadLetterTopic, allowanceTopicFor(REGION), NAIVE_TOPIC].map((name) => ({
    name,
    partitions: config.kafka.partitions,
  })),
);
// The worker reads this run's orders only: earlier runs (a --core-only one starts no worker) may have left some.
const groups = consumerGroups(REGION);
await skipToEnd(kafka, groups.worker, [region.kafkaTopic]);
await skipToEnd(kafka, groups.allowance, [allowanceTopicFor(REGION)]);

const { sql, db } = connectDatabase(config.postgres.url);
const redis = connectRedis(region.redisUrl);
const { products: admin } = inventoryServices(db, [region]);
const runId = Date.now().toString(36);
let productCount = 0;

/** Products on sale for the next hour, in PostgreSQL; `allocateProducts` gives them units in the bench region. */
async function insertProducts(count: number, holdSeconds: number): Promise<string[]> {
  const ids = Array.from({ length: count }, () => `bench-${runId}-${productCount++}`);
  const startsAt = new Date(Date.now() - 60_000);
  const endsAt = new Date(Date.now() + 3_600_000);
  const rows = ids.map((id) => ({
    id,
    name: "Benchmark product",
    totalUnits: 1_000_000_000,
    startsAt,
    endsAt,
    perUserLimit: 1_000_000,
    maxPerOrder: 10,
    holdSeconds,
  }));
  for (let i = 0; i < rows.length; i += 500) await db.insert(products).values(rows.slice(i, i + 500));
  return ids;
}

/** Through the admin's ledger, as an admin would: the region's core must be running. */
async function allocateProducts(ids: string[]): Promise<void> {
  for (let i = 0; i < ids.length; i += 20) {
    await Promise.all(
      ids.slice(i, i + 20).map(async (id) => {
        const allocated = await admin.setAllocations(id, { [REGION]: 1_000_000_000 }, "bench");
        if (!allocated.ok || allocated.value.some((m) => m.transfer.state !== "completed"))
          throw new Error(`allocating ${id} failed: ${JSON.stringify(allocated)}`);
      }),
    );
  }
}

/** A product behind a waiting room (queue mode), with `units` in the bench region and one per buyer. */
async function roomProduct(units: number, rate: number): Promise<string> {
  const id = `bench-${runId}-room`;
  await db.insert(products).values({
    id,
    name: "Benchmark waiting room",
    totalUnits: units,
    startsAt: new Date(Date.now() - 60_000),
    endsAt: new Date(Date.now() + 3_600_000),
    perUserLimit: 1,
    maxPerOrder: 1,
    holdSeconds: 600,
    roomMode: "queue",
    roomRate: rate,
  });
  const allocated = await admin.setAllocations(id, { [REGION]: units }, "bench");
  if (!allocated.ok || allocated.value.some((m) => m.transfer.state !== "completed"))
    throw new Error(`allocating ${id} failed: ${JSON.stringify(allocated)}`);
  return id;
}

const stored = async (ids: string[]) =>
  (await db.select({ n: count() }).from(orders).where(inArray(orders.productId, ids)))[0]!.n;

async function startCore(env: Record<string, string> = {}) {
  const core = spawn(["core/main.ts", "--region", REGION], env);
  children.push(core);
  await waitUntil(
    () =>
      fetch(`${region.coreUrl}/health`).then(
        (r) => r.ok,
        () => false,
      ),
    15_000,
    100,
  );
  return core;
}

const memoryBench = (): MemoryBench => ({
  redis,
  region: REGION,
  coreUrl: region.coreUrl,
  coreSecret: region.coreSecret,
  connections: CONNECTIONS,
  progress,
  async newProduct(holdSeconds) {
    const ids = await insertProducts(1, holdSeconds);
    await allocateProducts(ids);
    return ids[0]!;
  },
  stored: (id) => stored([id]),
});

const children: ReturnType<typeof spawn>[] = [];
let report: Record<string, unknown> = {};
let rows: Record<string, ReturnType<typeof row>> = {};
let pipelineFigures: PipelineFigures | undefined;
try {
  if (flags.soak) {
    const total = SOAK_ORDERS;
    progress(
      `soak: ${total.toLocaleString("en")} orders through one core, retention ${SOAK_RETENTION.FLUX_GATE_ORDER_RETENTION_MS} ms, a worker persisting them`,
    );
    await startCore(SOAK_RETENTION);
    children.push(spawn(["worker/main.ts", "--region", REGION]));
    const baselineMb = Number(((await usedMemory(redis)) / 2 ** 20).toFixed(1));
    const samples = await soak(memoryBench(), total, Math.max(1, Math.round(total / 10)));
    report = {
      soak_orders: total,
      redis_used_mb_at_start: baselineMb,
      redis_used_mb_after_first_tenth: samples[0]!.usedMb,
      redis_used_mb: samples.at(-1)!.usedMb,
      redis_used_growth: Number((samples.at(-1)!.usedMb / samples[0]!.usedMb).toFixed(2)),
      samples,
    };
    const chart = join(config.home, "bench", "soak-memory.svg");
    mkdirSync(dirname(chart), { recursive: true });
    writeFileSync(
      chart,
      lineChartSvg({
        title: `Redis memory over ${total.toLocaleString("en")} orders (retention ${Number(SOAK_RETENTION.FLUX_GATE_ORDER_RETENTION_MS) / 1000} s)`,
        xLabel: "orders placed",
        yLabel: "used_memory, MB",
        points: [{ x: 0, y: baselineMb }, ...samples.map((s) => ({ x: s.orders, y: s.usedMb }))],
      }),
    );
    progress(`soak: the memory curve is in ${chart}`);
    if (!flags.json) console.table(samples);
  } else {
    await throughputAndMemory();
  }
} finally {
  for (const child of children) child.kill();
  await Promise.all(children.map((c) => c.exited));
  redis.disconnect();
  await sql.end();
  await benchRedis.stop();
  rmSync(stackPaths(config).data(`redis-${REGION}`), { recursive: true, force: true });
  await stackDown(base, started);
}
if (flags.json)
  console.log(JSON.stringify({ seconds: SECONDS, cores: navigator.hardwareConcurrency, ...report }, null, 2));
else if (!flags.soak) printReport();
progress(`done in ${((performance.now() - t0) / 1000).toFixed(0)} s`);

async function throughputAndMemory() {
  const [productId] = await insertProducts(1, 600);
  const shared = {
    redis: livePid(stackPaths(config).pid(`redis-${REGION}`), "redis-server")!,
    kafka: livePid(stackPaths(config).pid("kafka"), "kafka.Kafka") ?? 0,
    "load generator": process.pid,
  };
  const load = { connections: CONNECTIONS, request: coreReservation(region.coreSecret, [productId!], REGION) };

  progress("baseline: bare Bun.serve + Hono + one EVALSHA");
  const baseline = spawn(["bench/baseline-server.ts", String(BASELINE_PORT), region.redisUrl]);
  children.push(baseline);
  const baselineUrl = `http://127.0.0.1:${BASELINE_PORT}`;
  await waitUntil(
    () =>
      fetch(baselineUrl).then(
        () => true,
        () => false,
      ),
    10_000,
    100,
  );
  await runLoad({ ...load, url: baselineUrl, seconds: 2 });
  const baselineRun = await measureCpu({ server: baseline.pid, ...shared }, () =>
    runLoad({ ...load, url: baselineUrl, seconds: SECONDS }),
  );
  baseline.kill();
  // The baseline's own: its server and its Redis, as the pipeline's figure counts the system's
  // processes and not the load generator.
  const baselineCpuUs = Number(
    (
      ((baselineRun.cpuSeconds.server! + baselineRun.cpuSeconds.redis!) * 1e6) /
      Math.max(1, baselineRun.result.ok)
    ).toFixed(1),
  );
  if (flags["pipeline-only"]) {
    rows = { baseline: row(baselineRun.result) };
    report = {
      baseline_rps: Math.round(baselineRun.result.rps),
      baseline_cpu_us_per_request: baselineCpuUs,
      ...(await pipelineRun(baselineCpuUs)),
    };
    return;
  }
  const coreFixedRate = Math.max(1, Math.round(CORE_FIXED_SHARE * baselineRun.result.rps));
  const edgeFixedRate = Math.max(1, Math.round(EDGE_FIXED_SHARE * baselineRun.result.rps));

  progress("core: HTTP → signature → validation → Lua → outbox → 202, with the relay publishing to Kafka");
  let core = await startCore();
  await allocateProducts([productId!]);
  if (flags["edge-only"]) {
    const { edge, restAdapter, edgeRun, edgeFixedRun } = await edgeRuns(productId!, edgeFixedRate, core, shared);
    edge.kill();
    restAdapter.kill();
    rows = {
      baseline: row(baselineRun.result),
      "edge → core, flat out": row(edgeRun.result),
      [`edge → core, ${edgeFixedRate}/s offered`]: row(edgeFixedRun),
    };
    report = {
      baseline_rps: Math.round(baselineRun.result.rps),
      edge_rps: Math.round(edgeRun.result.rps),
      edge_p50_ms: edgeFixedRun.p50,
      edge_p99_ms: edgeFixedRun.p99,
      edge_fixed_rate_offered: edgeFixedRate,
      edge_fixed_rate_rps: Math.round(edgeFixedRun.rps),
      edge_vs_baseline: Number((edgeRun.result.rps / baselineRun.result.rps).toFixed(3)),
      cpu_percent_of_one_core: { baseline: baselineRun.cpu, edge: edgeRun.cpu },
    };
    return;
  }
  await runLoad({ ...load, url: region.coreUrl, seconds: 2 });
  const coreRun = await measureCpu({ server: core.pid, ...shared }, () =>
    runLoad({ ...load, url: region.coreUrl, seconds: SECONDS }),
  );
  progress(
    `core: latency at ${coreFixedRate.toLocaleString("en")} offered requests/s (${CORE_FIXED_SHARE} × the baseline's rate)`,
  );
  const fixedRun = await runLoad({ ...load, url: region.coreUrl, seconds: SECONDS, rate: coreFixedRate });
  const coreRssMb = peakRssMb(core.pid);

  progress(`core: ${MANY_PRODUCTS.toLocaleString("en")} products on sale, every one taking orders`);
  const many = await insertProducts(MANY_PRODUCTS, 600);
  await allocateProducts(many);
  const manyLoad = {
    connections: CONNECTIONS,
    url: region.coreUrl,
    request: coreReservation(region.coreSecret, many, REGION),
  };
  await runLoad({ ...manyLoad, seconds: 2 });
  const manyRun = await runLoad({ ...manyLoad, seconds: SECONDS });

  rows = {
    baseline: row(baselineRun.result),
    "core, flat out": row(coreRun.result),
    [`core, ${coreFixedRate}/s offered`]: row(fixedRun),
    [`core, ${MANY_PRODUCTS} products, flat out`]: row(manyRun),
  };
  report = {
    core_rps: Math.round(coreRun.result.rps),
    baseline_rps: Math.round(baselineRun.result.rps),
    baseline_cpu_us_per_request: baselineCpuUs,
    core_vs_baseline: Number((coreRun.result.rps / baselineRun.result.rps).toFixed(3)),
    core_p50_ms: fixedRun.p50,
    core_p99_ms: fixedRun.p99,
    core_fixed_rate_offered: coreFixedRate,
    core_fixed_rate_rps: Math.round(fixedRun.rps),
    core_peak_rss_mb: coreRssMb,
    core_rps_1000_products: Math.round(manyRun.rps),
    core_1000_products_vs_one: Number((manyRun.rps / coreRun.result.rps).toFixed(3)),
    cpu_percent_of_one_core: { baseline: baselineRun.cpu, core: coreRun.cpu },
  };
  if (flags["core-only"]) return;

  progress(
    "naive: the textbook API (Bun.serve + Hono, rate limit → idempotency → Lua → Kafka acks=all → idempotency), each step awaited",
  );
  const naive = spawn([
    "bench/naive-server.ts",
    String(NAIVE_PORT),
    region.redisUrl,
    config.kafka.brokers.join(","),
    NAIVE_TOPIC,
  ]);
  children.push(naive);
  const naiveUrl = `http://127.0.0.1:${NAIVE_PORT}`;
  await waitUntil(
    () =>
      fetch(naiveUrl).then(
        () => true,
        () => false,
      ),
    15_000,
    100,
  );
  const naiveLoad = { connections: CONNECTIONS, request: edgeOrder(productId!, REGION), url: naiveUrl };
  await runLoad({ ...naiveLoad, seconds: 2 });
  const naiveRun = await measureCpu({ server: naive.pid, ...shared }, () =>
    runLoad({ ...naiveLoad, seconds: SECONDS }),
  );
  naive.kill();
  await naive.exited;

  const { edge, restAdapter, edgeUrl, edgeRun, edgeFixedRun } = await edgeRuns(productId!, edgeFixedRate, core, shared);

  const roomId = await roomProduct(ROOM_UNITS, ROOM_RATE);
  const crowd = ROOM_RATE * 10 * ROOM_ARRIVAL_SECONDS;
  progress(`room: ${crowd} buyers at ten times the waiting room's ${ROOM_RATE} admissions/s, for ${ROOM_UNITS} units`);
  const { figures: room } = await runCrowd({
    edgeUrl,
    productId: roomId,
    rate: ROOM_RATE,
    multiple: 10,
    buyers: crowd,
    drainSeconds: 30,
    headers: async (i) => ({ "X-User-Id": `room-buyer-${runId}-${i}`, "X-Region": REGION }),
  });
  const roomSold = Number(await redis.hget(productKeys(REGION, roomId).product, "held"));
  edge.kill();
  restAdapter.kill();

  progress("relay: waiting for the outboxes to drain into Kafka");
  const all = [productId!, ...many, roomId];
  const outboxes = all.map((id) => productKeys(REGION, id).outbox);
  const waiting = async () => {
    const pipeline = redis.pipeline();
    for (const key of outboxes) pipeline.xlen(key);
    return ((await pipeline.exec()) ?? []).reduce((sum, [, n]) => sum + Number(n), 0);
  };
  const relayLag = await waiting();
  await waitUntil(async () => (await waiting()) === 0, 300_000, 200);

  progress("worker: persisting the run's orders from Kafka into PostgreSQL");
  const held = redis.pipeline();
  for (const id of all) held.hget(productKeys(REGION, id).product, "held");
  const reserved = ((await held.exec()) ?? []).reduce((sum, [, n]) => sum + Number(n), 0);
  children.push(spawn(["worker/main.ts", "--region", REGION]));
  let firstAt = 0;
  let firstCount = 0;
  await waitUntil(
    async () => {
      const n = await stored(all);
      if (n > 0 && firstAt === 0) [firstAt, firstCount] = [performance.now(), n];
      return n >= reserved;
    },
    600_000,
    100,
  );
  const workerSeconds = (performance.now() - firstAt) / 1000;

  progress("memory: a core with a short retention, so that ended orders leave Redis during the run");
  core.kill();
  await core.exited;
  core = await startCore(SHORT_RETENTION);
  const memory = await memoryPerOrder(memoryBench(), MEMORY_ORDERS);
  const pipeline = await pipelineRun(baselineCpuUs, naiveRun.result.rps);

  Object.assign(rows, {
    "edge → core, flat out": row(edgeRun.result),
    [`edge → core, ${edgeFixedRate}/s offered`]: row(edgeFixedRun),
    "naive (textbook API), flat out": row(naiveRun.result),
  });
  const { cpu_percent_of_one_core: cpu, ...coreFigures } = report;
  report = {
    ...coreFigures,
    edge_rps: Math.round(edgeRun.result.rps),
    edge_p50_ms: edgeFixedRun.p50,
    edge_p99_ms: edgeFixedRun.p99,
    edge_fixed_rate_offered: edgeFixedRate,
    edge_fixed_rate_rps: Math.round(edgeFixedRun.rps),
    naive_rps: Math.round(naiveRun.result.rps),
    naive_p50_ms: naiveRun.result.p50,
    naive_p99_ms: naiveRun.result.p99,
    edge_vs_naive: Number((edgeRun.result.rps / naiveRun.result.rps).toFixed(3)),
    edge_vs_baseline: Number((edgeRun.result.rps / baselineRun.result.rps).toFixed(3)),
    relay_lag_at_end: relayLag,
    worker_orders_per_s: Math.round((reserved - firstCount) / Math.max(workerSeconds, 0.001)),
    orders_persisted: reserved,
    ...room,
    room_oversold: Math.max(0, roomSold - ROOM_UNITS) + Math.max(0, room.room_orders - ROOM_UNITS),
    room_lost: room.room_orders - (await stored([roomId])),
    ...memory,
    cpu_percent_of_one_core: { ...(cpu as object), naive: naiveRun.cpu, edge: edgeRun.cpu },
    ...pipeline,
  };
}

/** The Bun edge in front of the bench region's core: flat out, then at `fixedRate` offered. */
async function edgeRuns(
  productId: string,
  fixedRate: number,
  core: ReturnType<typeof spawn>,
  shared: Record<string, number>,
) {
  progress("edge: Bun edge (rate limit, idempotency, signing) → Redis over RESP + core");
  // An edge that knows the bench region only, so its idempotency records and rate-limit
  // counters land in the bench's own Redis, not in the stack's. It speaks RESP to that Redis;
  // the Redis REST adapter (what the Workers edge would use) still runs and stays in the CPU split,
  // so a reader sees it idle.
  const restAdapter = spawn(["redis-rest/main.ts", "--region", REGION]);
  const edge = spawn(["edge/entry/bun.ts"], {
    FLUX_GATE_REGIONS: REGION,
    [regionVariable("CORE_URL", REGION)]: region.coreUrl,
    [regionVariable("REDIS_REST_URL", REGION)]: region.redisRestUrl,
    [regionVariable("REDIS_URL", REGION)]: region.redisUrl,
  });
  children.push(restAdapter, edge);
  const edgeUrl = config.edge.url;
  await waitUntil(
    () =>
      fetch(`${edgeUrl}/health`).then(
        (r) => r.ok,
        () => false,
      ),
    15_000,
    100,
  );
  const edgeLoad = { connections: CONNECTIONS, request: edgeOrder(productId, REGION), url: edgeUrl };
  await runLoad({ ...edgeLoad, seconds: 2 });
  const edgeRun = await measureCpu({ edge: edge.pid, "redis-rest": restAdapter.pid, core: core.pid, ...shared }, () =>
    runLoad({ ...edgeLoad, seconds: SECONDS }),
  );
  progress(
    `edge: latency at ${fixedRate.toLocaleString("en")} offered orders/s (${EDGE_FIXED_SHARE} × the baseline's rate)`,
  );
  const edgeFixedRun = await runLoad({ ...edgeLoad, seconds: SECONDS, rate: fixedRate });
  return { edge, restAdapter, edgeUrl, edgeRun, edgeFixedRun };
}

/**
 * bench/pipeline.ts in a process of its own (it starts npm start's apps, which take their
 * configuration from its environment), once this run's own servers have stopped; its figures
 * with the ratios to the baseline and the naive API, and its chart.
 */
async function pipelineRun(baselineCpuUs: number, naiveRps?: number): Promise<Record<string, unknown>> {
  for (const child of children.splice(0)) {
    child.kill();
    await child.exited;
  }
  progress("pipeline: npm start's system (bench/pipeline.ts)");
  const child = Bun.spawn(
    [process.execPath, "bench/pipeline.ts", "--seconds", String(SECONDS), "--idle-seconds", String(IDLE_SECONDS)],
    { cwd: ROOT, env: process.env, stdout: "pipe", stderr: "inherit" },
  );
  const [out, code] = await Promise.all([new Response(child.stdout).text(), child.exited]);
  if (code !== 0) throw new Error(`bench/pipeline.ts failed (exit ${code})`);
  const figures = JSON.parse(out) as Record<string, unknown> & {
    pipeline_orders_per_s: number;
    pipeline_cpu_us_per_order: number;
    pipeline_cpu_us_per_order_by_process: PipelineFigures["flat"]["byGroup"];
    pipeline_cpu_us_per_order_each: Record<string, number>;
    pipeline_fixed_cpu_us_per_order: number;
    pipeline_fixed_cpu_us_per_order_by_process: PipelineFigures["flat"]["byGroup"];
    pipeline_fixed_rate_offered: number;
  };
  pipelineFigures = {
    date: new Date().toISOString().slice(0, 10),
    ordersPerS: figures.pipeline_orders_per_s,
    fixedRate: figures.pipeline_fixed_rate_offered,
    flat: {
      byGroup: figures.pipeline_cpu_us_per_order_by_process,
      byProcess: figures.pipeline_cpu_us_per_order_each,
      total: figures.pipeline_cpu_us_per_order,
    },
    fixed: {
      byGroup: figures.pipeline_fixed_cpu_us_per_order_by_process,
      byProcess: {},
      total: figures.pipeline_fixed_cpu_us_per_order,
    },
  };
  const chart = join(config.home, "bench", "pipeline-cpu.svg");
  mkdirSync(dirname(chart), { recursive: true });
  writeFileSync(chart, pipelineChartSvg(pipelineFigures));
  progress(`pipeline: the chart of CPU per order by process is in ${chart}`);
  return {
    ...figures,
    pipeline_cpu_vs_baseline: ratio(figures.pipeline_cpu_us_per_order, baselineCpuUs) ?? null,
    pipeline_vs_naive: ratio(figures.pipeline_orders_per_s, naiveRps) ?? null,
  };
}

function row(r: LoadResult) {
  return { "2xx/s": Math.round(r.rps), "p50 ms": r.p50, "p99 ms": r.p99, non2xx: r.non2xx, errors: r.errors };
}

function printReport() {
  console.log(
    `\nFlux-Gate benchmark: ${SECONDS} s per run, ${CONNECTIONS} connections, ${navigator.hardwareConcurrency} cores, Bun ${Bun.version}\n`,
  );
  console.table(rows);
  if (report.cpu_percent_of_one_core) {
    console.log("CPU during the flat-out runs, % of one core:");
    console.table(report.cpu_percent_of_one_core);
  }
  const {
    cpu_percent_of_one_core: _,
    pipeline_cpu_us_per_order_by_process: _byProcess,
    pipeline_fixed_cpu_us_per_order_by_process: _fixedByProcess,
    pipeline_cpu_us_per_order_each: each,
    idle_cpu_percent_by_process: idle,
    ...figures
  } = report;
  console.table(figures);
  if (pipelineFigures) {
    console.log("The pipeline (npm start's system): µs of CPU per order that reached PostgreSQL, by process:");
    console.table(pipelineRows(pipelineFigures));
    console.log("Each process, flat out (µs per order; the load generator is not in the total):");
    console.table(each);
    console.log(`Idle, % of one core (${IDLE_SECONDS} s):`);
    console.table(idle);
  }
}
