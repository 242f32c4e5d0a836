/**
 * `npm run bench -- --topology scaled`: where the work goes on the scaled topology
 * (docs/capacity.md). One region's two cores under reservations of one product, unsplit and in
 * three buckets, with `WAIT 1` and without: reservations per second, each Redis master's commands
 * and CPU; then the worker's rate draining the backlog alone and with a second consumer.
 *
 * Uses the running scaled stack or brings one up (and stops what it started); its cores and
 * workers listen on ports of their own.
 */
import { mkdirSync } from "node:fs";
import { count, inArray } from "drizzle-orm";
import { connectDatabase } from "../db/client.ts";
import { orders } from "../db/schema.ts";
import { inventoryServices } from "../admin/inventory/services.ts";
import { loadConfig } from "../shared/config.ts";
import { consumerGroups, groupState, skipToEnd } from "../shared/kafka.ts";
import { bucketId, productKeys } from "../shared/keys.ts";
import { connectRegionRedis, masters, type RedisConnection } from "../shared/redis.ts";
import { parseInfo } from "../core/reservation/redis-info.ts";
import { waitUntil } from "../stack/process.ts";
import { stackDown, stackStatus, stackUp } from "../stack/stack.ts";
import { spawnProcess } from "../stack/apps.ts";
import { stackPaths } from "../stack/services/service.ts";
import { measureCpu } from "./cpu.ts";
import { coreReservation, runLoad, type LoadResult } from "./load.ts";

const CONNECTIONS_PER_CORE = 50;
const BUCKETS = 3;

export async function benchScaled({ seconds, json }: { seconds: number; json: boolean }): Promise<void> {
  const progress = (message: string) => console.error(`bench: ${message}`);
  const env = {
    ...process.env,
    FLUX_GATE_ENV: "development",
    FLUX_GATE_TOPOLOGY: "scaled",
    FLUX_GATE_CORE_PORT: "18600",
    FLUX_GATE_WORKER_PORT: "18650",
    // Measure the reservation path, not load shedding.
    FLUX_GATE_OUTBOX_LIMIT: "100000000",
  };
  const config = loadConfig(env);
  const region = config.regions[0]!;
  const spawn = (argv: string[], extra: Record<string, string> = {}) => {
    // Each process's log in the stack's logs folder: bench-core-us-east-1.log, …
    const name = `bench-${argv[0]!.split("/")[0]}-${argv
      .slice(1)
      .filter((a) => !a.startsWith("--"))
      .join("-")}`;
    return spawnProcess(stackPaths(config).log(name), argv, { ...env, ...extra });
  };
  const healthy = (url: string) =>
    waitUntil(
      () =>
        fetch(`${url}/health`).then(
          (r) => r.ok,
          () => false,
        ),
      20_000,
      100,
    );

  const { started } = await stackUp(config, (service, message) => progress(`${service} ${message}`));
  const kafka = { brokers: config.kafka.brokers, clientId: "bench" };
  // The workers read this run's orders only: an earlier run may have left some unread.
  await skipToEnd(kafka, consumerGroups(region.id).worker, [region.kafkaTopic]);
  const { sql, db } = connectDatabase(config.postgres.url);
  const cluster = connectRegionRedis(region, region.redisUrl);
  const children: ReturnType<typeof spawn>[] = [];
  mkdirSync(stackPaths(config).logs, { recursive: true });
  try {
    let cores: ReturnType<typeof spawn>[] = [];
    const startCores = async (extra: Record<string, string> = {}) => {
      for (const core of cores) core.kill();
      await Promise.all(cores.map((c) => c.exited));
      cores = region.cores.map((_, n) =>
        spawn(["core/main.ts", "--region", region.id, "--instance", String(n + 1)], extra),
      );
      children.push(...cores);
      for (const core of region.cores) await healthy(core.url);
    };
    await startCores();

    const { products } = inventoryServices(db, [region]);
    const runId = Date.now().toString(36);
    const slotOwner = await slotOwners(cluster);
    /** A product on sale with plenty of units here; split, its buckets' slots on as many masters as there are buckets. */
    const newProduct = async (buckets: number) => {
      let id = `scaled-bench-${runId}-${buckets}`;
      for (let salt = 0; buckets > 1; salt++) {
        id = `scaled-bench-${runId}-${buckets}-${salt}`;
        const owners = new Set(
          await Promise.all(
            Array.from({ length: buckets }, (_, b) => slotOwner(productKeys(region.id, bucketId(id, b)).product)),
          ),
        );
        if (owners.size === Math.min(buckets, 3)) break;
      }
      const created = await products.create({
        id,
        name: "Scaled benchmark",
        totalUnits: 1_000_000_000,
        startsAt: new Date(Date.now() - 60_000),
        endsAt: new Date(Date.now() + 3_600_000),
        perUserLimit: 1_000_000,
        maxPerOrder: 10,
        holdSeconds: 600,
        buckets,
      });
      const allocated = await products.setAllocations(id, { [region.id]: 1_000_000_000 }, "bench");
      if (!created.ok || !allocated.ok) throw new Error(`creating ${id} failed`);
      return id;
    };

    const masterNodes = masters(cluster);
    const masterPids = async () => {
      const status = await stackStatus(config);
      return Object.fromEntries(
        masterNodes.map((node) => {
          const port = node.options.port;
          return [`:${port}`, status.find((s) => s.endpoint.endsWith(`:${port}`))?.pid ?? 0];
        }),
      );
    };
    const commandsProcessed = async () =>
      Promise.all(
        masterNodes.map(async (node) => Number(parseInfo(await node.info("stats")).total_commands_processed)),
      );

    /** Both cores flat out on one product for `seconds`. */
    const run = async (label: string, productId: string) => {
      progress(`${label}: ${seconds} s of reservations through ${region.cores.length} cores`);
      const before = await commandsProcessed();
      const coresCpu = Object.fromEntries(cores.map((core, n) => [`core-${n + 1}`, core.pid]));
      const { result, cpu } = await measureCpu({ ...(await masterPids()), ...coresCpu }, () =>
        Promise.all(
          region.cores.map((core) =>
            runLoad({
              url: core.url,
              seconds,
              connections: CONNECTIONS_PER_CORE,
              request: coreReservation(region.coreSecret, [productId], region.id),
            }),
          ),
        ),
      );
      const after = await commandsProcessed();
      const rps = result.reduce((n, r: LoadResult) => n + r.rps, 0);
      const ops = after.map((n, i) => Math.round((n - before[i]!) / seconds));
      const masterCpu = masterNodes.map((node) => cpu[`:${node.options.port}`] ?? 0);
      const coreCpu = Object.keys(coresCpu).reduce((n, name) => n + (cpu[name] ?? 0), 0);
      return {
        label,
        core_rps: Math.round(rps),
        p99_ms: Math.max(...result.map((r) => r.p99)),
        errors: result.reduce((n, r) => n + r.errors + r.non2xx, 0),
        master_commands_per_s: ops,
        master_cpu_percent: masterCpu,
        /** CPU time per reservation, in µs: the cores together, and the masters together. */
        core_cpu_us_per_reservation: Math.round((coreCpu / 100 / rps) * 1e6),
        redis_cpu_us_per_reservation: Math.round((masterCpu.reduce((a, b) => a + b, 0) / 100 / rps) * 1e6),
        /** (most - least) / most: 0 is an even spread. */
        master_spread: Number(((Math.max(...ops) - Math.min(...ops)) / Math.max(...ops)).toFixed(2)),
      };
    };

    const unsplit = await newProduct(1);
    const split = await newProduct(BUCKETS);
    const runs = [await run("1 bucket, WAIT 1", unsplit), await run(`${BUCKETS} buckets, WAIT 1`, split)];
    progress("the same without WAIT (FLUX_GATE_REPLICA_WAIT_MS=0)");
    await startCores({ FLUX_GATE_REPLICA_WAIT_MS: "0" });
    runs.push(await run("1 bucket, no WAIT", unsplit), await run(`${BUCKETS} buckets, no WAIT`, split));

    progress("relay: waiting for the outboxes to empty into Kafka");
    const outboxes = [unsplit, ...Array.from({ length: BUCKETS }, (_, b) => bucketId(split, b))].map(
      (id) => productKeys(region.id, id).outbox,
    );
    await waitUntil(
      async () => (await Promise.all(outboxes.map((k) => cluster.xlen(k)))).every((n) => n === 0),
      600_000,
      500,
    );
    const stored = async () =>
      (
        await db
          .select({ n: count() })
          .from(orders)
          .where(inArray(orders.productId, [unsplit, split]))
      )[0]!.n;
    const reserved = runs.reduce((n, r) => n + r.core_rps * seconds, 0);

    progress("worker: one consumer on the backlog, then two");
    /** Orders persisted per second over the next `windowMs`, or null if the backlog ran out. */
    const rate = async (windowMs: number) => {
      const [n0, t0] = [await stored(), performance.now()];
      await Bun.sleep(windowMs);
      const n1 = await stored();
      return n1 >= reserved * 0.98 ? null : Math.round((n1 - n0) / ((performance.now() - t0) / 1000));
    };
    /** `count` workers of the region, measured once the group is stable with all of them. */
    const consumers = async (count: number) => {
      const workers = Array.from({ length: count }, (_, n) =>
        spawn(["worker/main.ts", "--region", region.id, "--instance", String(n + 1)]),
      );
      children.push(...workers);
      await waitUntil(
        async () => {
          const group = await groupState(kafka, consumerGroups(region.id).worker).catch(() => undefined);
          return group?.state === "Stable" && group.members === count;
        },
        60_000,
        200,
      );
      const t0 = performance.now();
      progress(`worker: ${count} consumer(s): the group is stable with all of them`);
      // From their first batch: a group that just formed fetches its offsets first.
      const before = await stored();
      await waitUntil(async () => (await stored()) > before, 30_000, 50);
      progress(`worker: the first batch reached PostgreSQL ${Math.round(performance.now() - t0)} ms later`);
      const perSecond = await rate(3_000);
      // SIGTERM: each leaves the group, so the next measurement starts from a settled one.
      for (const worker of workers) worker.kill();
      await Promise.all(workers.map((w) => w.exited));
      return perSecond;
    };
    const oneWorker = await consumers(1);
    const twoWorkers = await consumers(2);

    const report = {
      topology: "scaled",
      seconds,
      runs,
      wait_cost: Number((1 - runs[0]!.core_rps / runs[2]!.core_rps).toFixed(3)),
      worker_orders_per_s_1_consumer: oneWorker,
      worker_orders_per_s_2_consumers: twoWorkers,
    };
    if (json) console.log(JSON.stringify(report, null, 2));
    else {
      for (const r of runs)
        console.log(
          `${r.label.padEnd(22)} ${String(r.core_rps).padStart(6)} reservations/s  p99 ${r.p99_ms} ms  masters ${r.master_commands_per_s.join(" / ")} commands/s, ${r.master_cpu_percent.join(" / ")} % CPU (spread ${r.master_spread})`,
        );
      console.log(`WAIT 1 costs ${(report.wait_cost * 100).toFixed(1)} % of one bucket's reservations/s`);
      console.log(
        `worker: ${oneWorker ?? "(drained)"} orders/s with one consumer, ${twoWorkers ?? "(drained)"} with two`,
      );
    }
  } finally {
    for (const child of children) child.kill();
    await Promise.all(children.map((c) => c.exited));
    cluster.disconnect();
    await sql.end();
    await stackDown(config, started);
  }
}

/** Which master (its port) serves a key, by the cluster's own word (CLUSTER KEYSLOT, CLUSTER SLOTS). */
async function slotOwners(cluster: RedisConnection): Promise<(key: string) => Promise<number>> {
  const shards = (await cluster.call("CLUSTER", "SLOTS")) as [number, number, [string, number]][];
  return async (key) => {
    const slot = Number(await cluster.call("CLUSTER", "KEYSLOT", key));
    return shards.find(([from, to]) => slot >= from && slot <= to)?.[2][1] ?? -1;
  };
}
