/**
 * The pipeline run of `npm run bench` (issue #25): the default topology as `npm start` runs it
 * (two regions, each with its Redis, REST adapter, core with its relay, worker; the admin API;
 * the Bun edge; Kafka and PostgreSQL), driven at the edge by new buyers, and what each process
 * spends per order that reached PostgreSQL.
 *
 *   bun bench/pipeline.ts [--seconds N] [--idle-seconds N]
 *
 * bench/main.ts runs it as a child process; it prints one JSON object on stdout, progress on
 * stderr. It needs the stack (Kafka, PostgreSQL) up, and starts the rest itself with
 * stack/apps.ts's `startApps`, as `npm start` does, on a configuration of its own so that it
 * never meets a developer's `npm start` or the tests: two regions of its own (`pipeline-us`,
 * `pipeline-eu`: their own Redis, started fresh and deleted at the end, their own topics and
 * consumer groups), its own ports, and its own home for their logs
 * (`<FLUX_GATE_HOME>/bench-pipeline`). Kafka and PostgreSQL are the stack's, shared.
 *
 * It differs from `npm start` in one setting: the per-address rate limit is set too high to
 * refuse (every buyer comes from 127.0.0.1 here); every limiter still runs.
 *
 * Phases: a warm-up; the whole system idle (`idle_cpu_percent`); flat out; at a fixed rate (half
 * the flat-out rate). Each process's CPU is read from /proc (its children's included: the
 * postmaster's backends, a Redis's AOF rewrite) at the start of a phase and once PostgreSQL
 * holds every order it accepted (bounded wait), so the work of persisting them is inside.
 */
import { mkdirSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { count, eq } from "drizzle-orm";
import { connectDatabase } from "../db/client.ts";
import { orders } from "../db/schema.ts";
import { inventoryServices } from "../admin/inventory/services.ts";
import { COUNTRIES } from "../demo/buyers.ts";
import { commandLine } from "../shared/command-line.ts";
import { loadConfig } from "../shared/config.ts";
import { allowanceTopicFor, consumerGroups, ensureTopics, skipToEnd } from "../shared/kafka.ts";
import { startApps, stopApps, type App, type AppState } from "../stack/apps.ts";
import { livePid, portIsOpen, waitUntil } from "../stack/process.ts";
import { redisServices } from "../stack/services/redis.ts";
import { stackPaths } from "../stack/services/service.ts";
import { stackStatus } from "../stack/stack.ts";
import { runLoad, type LoadResult } from "./load.ts";
import { cpuPercent, cpuPerOrder, parseStat, treeTicks, type CpuReading, type ProcStat } from "./pipeline-cpu.ts";

const cli = commandLine("bench/pipeline.ts", "usage: bun bench/pipeline.ts [--seconds N] [--idle-seconds N]", {
  seconds: { type: "string", default: "10" },
  "idle-seconds": { type: "string", default: "20" },
});
const SECONDS = cli.count("seconds", cli.values.seconds);
const IDLE_SECONDS = cli.count("idle-seconds", cli.values["idle-seconds"]);
/** As issue #25 measured it by hand. */
const CONNECTIONS = 64;
const WARMUP_SECONDS = 2;
/** The fixed-rate phase offers this share of the flat-out rate. */
const FIXED_SHARE = 0.5;
/** Longest wait for the workers to persist a phase's orders. */
const DRAIN_TIMEOUT_MS = 120_000;
const UNITS_PER_REGION = 500_000_000;
const TICKS_PER_SECOND = 100;
const REGIONS = ["pipeline-us", "pipeline-eu"] as const;
const progress = (message: string) => console.error(`bench: pipeline: ${message}`);

process.env.FLUX_GATE_ENV ??= "development";
const stack = loadConfig();
if (stack.topology !== "single") throw new Error("the pipeline run measures the default (single) topology");
const services = await stackStatus(stack);
const servicePid = (name: string) => {
  const pid = services.find((s) => s.name === name)?.pid;
  if (!pid) throw new Error(`${name} is not running from ${stack.home}: start the stack (npx flux-gate stack up)`);
  return pid;
};
const kafkaPid = servicePid("kafka");
const postgresPid = servicePid("postgres");

// The apps read their configuration from the environment (stack/apps.ts passes it on): this
// process's is the pipeline's, set before anything reads it. Ports 27xxx: apart from npm start's
// (8xxx), the bench's (18xxx) and the tests' (18xxx, 19xxx).
Object.assign(process.env, {
  FLUX_GATE_HOME: join(stack.home, "bench-pipeline"),
  FLUX_GATE_REGIONS: REGIONS.join(","),
  // As the default gives us-east and eu-west: the Americas first to one, Europe to the other.
  FLUX_GATE_COUNTRY_REGIONS: [
    ...["US", "CA", "MX", "BR", "AR"].map((c) => `${c}:${REGIONS[0]},${REGIONS[1]}`),
    ...["GB", "IE", "FR", "DE", "ES", "PT", "NL", "BE", "IT"].map((c) => `${c}:${REGIONS[1]},${REGIONS[0]}`),
    `*:${REGIONS.join(",")}`,
  ].join(";"),
  FLUX_GATE_REDIS_PORT: "26380",
  FLUX_GATE_CORE_PORT: "27101",
  FLUX_GATE_REDIS_REST_PORT: "27201",
  FLUX_GATE_WORKER_PORT: "27401",
  FLUX_GATE_ADMIN_PORT: "27300",
  FLUX_GATE_EDGE_PORT: "27080",
  FLUX_GATE_EDGE_METRICS_PORT: "27090",
  // Every buyer here comes from 127.0.0.1.
  FLUX_GATE_RATE_LIMIT_IP: "100000000/10s",
  DATABASE_URL: stack.postgres.url,
  KAFKA_BROKERS: stack.kafka.brokers.join(","),
});
const config = loadConfig();
const redisOf = config.regions.map((region) => redisServices(config, region)[0]!);

/** Every /proc/<pid>/stat on the machine at one moment. */
function procStats(): ProcStat[] {
  const stats: ProcStat[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = parseStat(readFileSync(`/proc/${entry}/stat`, "utf8"));
      if (stat) stats.push(stat);
    } catch {
      // It exited between the listing and the read: its time is in its parent's cutime now.
    }
  }
  return stats;
}

const appPids: Record<string, number> = {};
const state: AppState = {
  note: (name, app) => {
    appPids[name] = app.pid;
  },
  release: () => {},
};

/** Each process's CPU seconds now: the system's processes with their children, the load generator alone. */
function readCpu(): CpuReading {
  const stats = procStats();
  const redisPids = Object.fromEntries(
    config.regions.map((r) => [`redis-${r.id}`, livePid(stackPaths(config).pid(`redis-${r.id}`), "redis-server") ?? 0]),
  );
  const trees: Record<string, number> = { ...appPids, ...redisPids, kafka: kafkaPid, postgres: postgresPid };
  const reading = Object.fromEntries(
    Object.entries(trees).map(([name, pid]) => [name, treeTicks(pid, stats) / TICKS_PER_SECOND]),
  );
  // The apps are this process's children: its own ticks only (utime + stime).
  const self = readFileSync(`/proc/${process.pid}/stat`, "utf8");
  const fields = self.slice(self.lastIndexOf(")") + 2).split(" ");
  reading["load generator"] = (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
  return reading;
}

let apps: App[] = [];
let cleaning: Promise<void> | undefined;
const cleanUp = () =>
  (cleaning ??= (async () => {
    await stopApps(apps);
    for (const redis of redisOf) await redis.stop().catch(() => {});
    for (const r of config.regions) rmSync(stackPaths(config).data(`redis-${r.id}`), { recursive: true, force: true });
  })());
for (const signal of ["SIGINT", "SIGTERM"] as const)
  process.on(signal, () => {
    progress(`${signal}: stopping what this run started`);
    void cleanUp().finally(() => process.exit(130));
  });

const { sql, db } = connectDatabase(config.postgres.url, { max: 2 });
try {
  const ports = [
    ...config.regions.flatMap((r) => [r.redisPort, r.corePort, r.redisRestPort, r.workerPort]),
    config.admin.port,
    config.edge.port,
    config.edge.metricsPort,
  ];
  for (const port of ports)
    if (await portIsOpen(port)) throw new Error(`port ${port} is taken: is another pipeline run going?`);

  progress(`a fresh Redis for ${REGIONS.join(" and ")}`);
  for (const dir of [stackPaths(config).logs, stackPaths(config).run]) mkdirSync(dir, { recursive: true });
  for (const [i, redis] of redisOf.entries()) {
    rmSync(stackPaths(config).data(`redis-${config.regions[i]!.id}`), { recursive: true, force: true });
    await redis.start(() => {});
  }
  const kafka = { brokers: config.kafka.brokers, clientId: "bench-pipeline" };
  await ensureTopics(
    kafka,
    config.regions
      .flatMap((r) => [r.kafkaTopic, r.deadLetterTopic, allowanceTopicFor(r.id)])
      .map((name) => ({
        name,
        partitions: config.kafka.partitions,
      })),
  );
  // What an interrupted earlier run left in the topics is not this run's work. A topic created
  // a moment ago may have no leader yet: asked again until it has (bounded).
  for (const r of config.regions) {
    const groups = consumerGroups(r.id);
    for (const [group, topics] of [
      [groups.worker, [r.kafkaTopic]],
      [groups.allowance, [allowanceTopicFor(r.id)]],
    ] as const) {
      let failure: unknown;
      const done = await waitUntil(
        () =>
          skipToEnd(kafka, group, [...topics]).then(
            () => true,
            (error: unknown) => {
              failure = error;
              return false;
            },
          ),
        30_000,
        500,
      );
      if (!done) throw failure;
    }
  }

  progress(
    "starting the apps as npm start does (stack/apps.ts): per region a REST adapter, core, worker; the admin API; the edge",
  );
  apps = await startApps(config, state, (name, message) => progress(`${name} ${message}`));

  const runId = Date.now().toString(36);
  const { products } = inventoryServices(db, config.regions);
  /** A product on sale for an hour with plenty of units in both regions, allocated as an admin would. */
  const newProduct = async (phase: string) => {
    const id = `pipeline-${runId}-${phase}`;
    const created = await products.create({
      id,
      name: "Pipeline benchmark product",
      totalUnits: UNITS_PER_REGION * REGIONS.length,
      startsAt: new Date(Date.now() - 60_000),
      endsAt: new Date(Date.now() + 3_600_000),
      perUserLimit: 1_000,
      maxPerOrder: 10,
      holdSeconds: 600,
    });
    if (!created.ok) throw new Error(`creating ${id}: ${created.code}: ${created.detail}`);
    const allocated = await products.setAllocations(
      id,
      Object.fromEntries(REGIONS.map((r) => [r, UNITS_PER_REGION])),
      "bench",
    );
    if (!allocated.ok || allocated.value.some((m) => m.transfer.state !== "completed"))
      throw new Error(`allocating ${id} failed: ${JSON.stringify(allocated)}`);
    return id;
  };
  const stored = async (productId: string) =>
    (await db.select({ n: count() }).from(orders).where(eq(orders.productId, productId)))[0]!.n;

  /** New buyers: each request its own buyer and Idempotency-Key, from countries served first by either region. */
  const buyers = (productId: string) => (i: number) => ({
    path: "/v1/orders",
    body: JSON.stringify({ productId, quantity: 1 }),
    headers: {
      "content-type": "application/json",
      "X-User-Id": `${productId}-buyer-${i}`,
      "CF-IPCountry": COUNTRIES[i % COUNTRIES.length]!,
      "Idempotency-Key": crypto.randomUUID(),
    },
  });

  /** Drives the edge, then waits for PostgreSQL to hold what it accepted; CPU from before the load to then. */
  const phase = async (name: string, rate?: number) => {
    const productId = await newProduct(name);
    const before = readCpu();
    const t0 = performance.now();
    const load = await runLoad({
      url: config.edge.url,
      connections: CONNECTIONS,
      seconds: SECONDS,
      request: buyers(productId),
      ...(rate ? { rate } : {}),
    });
    progress(`${name}: ${load.ok.toLocaleString("en")} orders accepted; waiting for PostgreSQL to hold them`);
    const loadDone = performance.now();
    // Orders still in flight when the load stopped are accepted too (the client no longer
    // waits for their answer): PostgreSQL holds them all once its count has reached the 2xx
    // answers and stopped moving for a second.
    let persisted = 0;
    let steadySince = 0;
    const caughtUp = await waitUntil(
      async () => {
        const n = await stored(productId);
        if (n !== persisted || n < load.ok) [persisted, steadySince] = [n, performance.now()];
        return n >= load.ok && performance.now() - steadySince >= 1_000;
      },
      DRAIN_TIMEOUT_MS,
      100,
    );
    const after = readCpu();
    const elapsed = (performance.now() - t0) / 1000;
    const drainSeconds = (steadySince - loadDone) / 1000;
    if (!caughtUp)
      progress(
        `${name}: PostgreSQL holds ${persisted} of ${load.ok} after ${DRAIN_TIMEOUT_MS / 1000} s; counting those`,
      );
    return { load, persisted, caughtUp, drainSeconds, elapsed, before, after };
  };

  progress(`warm-up: ${WARMUP_SECONDS} s of orders`);
  const warm = await newProduct("warm-up");
  const warmed = await runLoad({
    url: config.edge.url,
    connections: CONNECTIONS,
    seconds: WARMUP_SECONDS,
    request: buyers(warm),
  });
  await waitUntil(async () => (await stored(warm)) >= warmed.ok, DRAIN_TIMEOUT_MS, 200);

  progress(`idle: the whole system, no orders, for ${IDLE_SECONDS} s`);
  const idleBefore = readCpu();
  const idleT0 = performance.now();
  await Bun.sleep(IDLE_SECONDS * 1000);
  const idle = cpuPercent(idleBefore, readCpu(), (performance.now() - idleT0) / 1000);

  progress(`flat out: ${CONNECTIONS} connections of new buyers for ${SECONDS} s`);
  const flat = await phase("flat-out");
  // Accepted (a 2xx within the run) and persisted.
  const flatRate = Math.min(flat.load.ok, flat.persisted) / SECONDS;
  const fixedRate = Math.max(1, Math.round(FIXED_SHARE * flatRate));
  progress(
    `fixed rate: ${fixedRate.toLocaleString("en")} orders/s offered (${FIXED_SHARE} × flat out) for ${SECONDS} s`,
  );
  const fixed = await phase("fixed-rate", fixedRate);

  const flatCpu = cpuPerOrder(flat.before, flat.after, flat.persisted);
  const fixedCpu = cpuPerOrder(fixed.before, fixed.after, fixed.persisted);
  /** µs per order beyond what the system spends idle over the same time: the orders' own cost. */
  const aboveIdle = (p: typeof flat, total: number) =>
    p.persisted > 0 ? Math.round(total - (idle.total / 100) * p.elapsed * (1e6 / p.persisted)) : 0;
  const figures = (load: LoadResult) => ({
    p50_ms: load.p50,
    p99_ms: load.p99,
    non2xx: load.non2xx,
    errors: load.errors,
  });
  const restarts = Object.fromEntries(apps.filter((a) => a.restarts > 0).map((a) => [a.name, a.restarts]));
  console.log(
    JSON.stringify({
      pipeline_orders_per_s: Math.round(flatRate),
      pipeline_orders_accepted: flat.load.ok,
      pipeline_orders_persisted: flat.persisted,
      pipeline_drain_s: Number(flat.drainSeconds.toFixed(1)),
      pipeline_caught_up: flat.caughtUp && fixed.caughtUp,
      ...Object.fromEntries(Object.entries(figures(flat.load)).map(([k, v]) => [`pipeline_${k}`, v])),
      pipeline_cpu_us_per_order: flatCpu.total,
      pipeline_cpu_us_per_order_above_idle: aboveIdle(flat, flatCpu.total),
      pipeline_cpu_us_per_order_by_process: flatCpu.byGroup,
      pipeline_cpu_us_per_order_each: flatCpu.byProcess,
      kafka_cpu_us_per_order: flatCpu.byGroup.kafka,
      pipeline_fixed_rate_offered: fixedRate,
      pipeline_fixed_rate_orders_per_s: Math.round(Math.min(fixed.load.ok, fixed.persisted) / SECONDS),
      pipeline_fixed_orders_persisted: fixed.persisted,
      ...Object.fromEntries(Object.entries(figures(fixed.load)).map(([k, v]) => [`pipeline_fixed_${k}`, v])),
      pipeline_fixed_cpu_us_per_order: fixedCpu.total,
      pipeline_fixed_cpu_us_per_order_above_idle: aboveIdle(fixed, fixedCpu.total),
      pipeline_fixed_cpu_us_per_order_by_process: fixedCpu.byGroup,
      idle_cpu_percent: idle.total,
      idle_cpu_percent_by_process: idle.byGroup,
      idle_seconds: IDLE_SECONDS,
      pipeline_connections: CONNECTIONS,
      ...(Object.keys(restarts).length > 0 ? { pipeline_app_restarts: restarts } : {}),
    }),
  );
} finally {
  await sql.end();
  await cleanUp();
}
