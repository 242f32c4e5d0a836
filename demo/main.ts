/**
 * `npm run demo [-- --buyers N --units M --concurrency C --per-address K --json]`: a flash sale
 * against the running `npm start`, or on a stack and apps this command starts (and stops).
 * A fresh product with M units spread across the regions, N buyers from several countries at
 * the edge, a live line while they buy, then a report checked against PostgreSQL.
 * `--crowd X [--room-rate R]`: the product has a waiting room admitting R orders/s per region,
 * and the buyers arrive at X times that (demo/crowd.ts), as the room's page behaves.
 * `--wan [--wan-delay-ms N] [--wan-chart FILE]`: over `npm start -- --wan`'s simulated WAN,
 * buyers from each region's side at its edge, near-home and far-home (demo/wan.ts), probe orders
 * whose round trips the relays count, and a `wan` report.
 */
import { writeFileSync } from "node:fs";
import { eq } from "drizzle-orm";
import { SignJWT } from "jose";
import { connectDatabase } from "../db/client.ts";
import { orders } from "../db/schema.ts";
import { commandLine } from "../shared/command-line.ts";
import { ConfigError, DEVELOPMENT_ADMIN_TOKEN, loadConfig, TOPOLOGIES, type Config } from "../shared/config.ts";
import { answersHealth, appEndpoints, claimRun, startApps, stopApps, type App } from "../stack/apps.ts";
import { StackError, waitUntil } from "../stack/process.ts";
import { stackDown, stackUp } from "../stack/stack.ts";
import { parseWanDelay, roundTripsWithin, wanLayout, type Exchange, type WanLayout } from "../stack/wan.ts";
import { rendezvousHome } from "../shared/home-region.ts";
import { verify } from "../cli/verify/verify.ts";
import { COUNTRIES, runBuyers } from "./buyers.ts";
import { runCrowd } from "./crowd.ts";
import { wanFigures, wanHistogramSvg, wanRoute, type WanGroup, type WanSamples } from "./wan.ts";
import { progressLine, quantile, type Tally } from "./progress.ts";
import {
  buyerRows,
  formatReport,
  integrity,
  outcomeOf,
  regionsReport,
  SOLD_OUT,
  type DemoReport,
  type StoredOrder,
} from "./report.ts";

const USAGE = `usage: npm run demo [-- --buyers N --units M --concurrency C --per-address K --json]

  --buyers N         buyers, each with a user id of their own (3000; 1000 with --crowd)
  --units M          units of the sale's product, spread across the regions (1000; 300 with --crowd)
  --concurrency C    buyers in flight at once (64; 8 with --wan)
  --per-address K    buyers sharing one client address (4)
  --crowd X          a waiting room: buyers arrive at X times its rate (10 or 10x), open-loop
  --room-rate R      the room's admissions per second per region, with --crowd (20)
  --topology scaled  on the scaled topology (docs/capacity.md); started if nothing runs
  --wan              over the simulated WAN of npm start -- --wan (started so if nothing runs):
                     buyers from each region's side at its edge, near-home and far-home,
                     and a "wan" report (docs/capacity.md#the-wan-simulated)
  --wan-delay-ms N   the one-way delay when --wan starts the system (35); a running one's is used
  --wan-chart FILE   with --wan: the two groups' latency histogram as an SVG
  --json             the report as JSON`;

const {
  values: flags,
  count,
  oneOf,
} = commandLine("demo", USAGE, {
  buyers: { type: "string" },
  units: { type: "string" },
  concurrency: { type: "string" },
  "per-address": { type: "string", default: "4" },
  crowd: { type: "string" },
  "room-rate": { type: "string", default: "20" },
  topology: { type: "string" },
  wan: { type: "boolean", default: false },
  "wan-delay-ms": { type: "string" },
  "wan-chart": { type: "string" },
  json: { type: "boolean", default: false },
});

const say = (message: string) => console.error(`demo: ${message}`);
/** A flag that does not fit: one line, the usage, exit 2 (as commandLine answers one). */
const usage = (message: string): never => {
  console.error(`demo: ${message}\n\n${USAGE}`);
  process.exit(2);
};

/** The running system's WAN relays: their one-way delay, or undefined when none answer. */
async function relayDelay(wan: WanLayout): Promise<number | undefined> {
  const health = await fetch(`${wan.controlUrl}/health`, { signal: AbortSignal.timeout(1_000) })
    .then((r) => (r.ok ? (r.json() as Promise<{ delayMs: number }>) : undefined))
    .catch(() => undefined);
  return health?.delayMs;
}

/** Uses a running system, or brings one up; returns how to put things back as they were. */
async function ensureSystem(config: Config, wan?: WanLayout, delayGiven = false): Promise<() => Promise<void>> {
  const urls = appEndpoints(config);
  if ((await answersHealth(urls.edge)) && (await answersHealth(urls.admin))) {
    if (wan) {
      const delay = await relayDelay(wan);
      if (delay === undefined)
        throw new StackError(
          `the system running at ${urls.edge} has no WAN relays (${wan.controlUrl})`,
          "stop it (Ctrl-C in its terminal) and start it with: npm start -- --wan",
        );
      if (delayGiven && delay !== wan.delayMs)
        throw new StackError(
          `the running system's WAN relays add ${delay} ms each way, not ${wan.delayMs}`,
          `leave --wan-delay-ms out, or restart it with: npm start -- --wan --wan-delay-ms ${wan.delayMs}`,
        );
      wan.delayMs = delay;
      for (const edge of wan.edges)
        if (!(await answersHealth(edge.url)))
          throw new StackError(`the ${edge.region} edge does not answer at ${edge.url}`, "see npx flux-gate status");
      say(
        `using the running system: edges ${wan.edges.map((e) => e.url).join(", ")}, ${delay} ms each way between regions`,
      );
    } else say(`using the running system at ${urls.edge}`);
    return async () => {};
  }
  say("no running system found: starting the stack and the apps (npm start does this for good)");
  const run = claimRun(config);
  const { started } = await stackUp(config, (service, message) => say(`${service} ${message}`));
  let apps: App[] = [];
  try {
    apps = await startApps(config, run, (name, message) => say(`${name} ${message}`), { wan });
  } catch (error) {
    await stackDown(config, started);
    run.release();
    throw error;
  }
  return async () => {
    await stopApps(apps);
    await stackDown(config, started);
    run.release();
  };
}

/** How a buyer proves who they are: a signed JWT where the edge wants one, else the development header. */
function identity(config: Config): (userId: string) => Promise<Record<string, string>> {
  const secret = config.edge.jwtSecret;
  if (!secret) return async (userId) => ({ "X-User-Id": userId });
  const key = new TextEncoder().encode(secret);
  return async (userId) => ({
    Authorization: `Bearer ${await new SignJWT({}).setProtectedHeader({ alg: "HS256" }).setSubject(userId).setExpirationTime("10m").sign(key)}`,
  });
}

async function createSaleProduct(
  config: Config,
  units: number,
  roomRate?: number,
  prefix = "flash",
): Promise<{ id: string; allocations: Record<string, number> }> {
  const id = `${prefix}-${Date.now().toString(36)}`;
  const regions = config.regions.map((r) => r.id);
  const allocations = Object.fromEntries(
    regions.map((r, i) => [r, Math.floor(units / regions.length) + (i < units % regions.length ? 1 : 0)]),
  );
  const token = process.env.FLUX_GATE_ADMIN_TOKEN ?? DEVELOPMENT_ADMIN_TOKEN;
  const response = await fetch(`${config.admin.url}/v1/products`, {
    method: "POST",
    headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
    body: JSON.stringify({
      id,
      name: "Flash-sale demo",
      totalUnits: units,
      startsAt: new Date(Date.now() - 60_000).toISOString(),
      endsAt: new Date(Date.now() + 3_600_000).toISOString(),
      perUserLimit: 2,
      maxPerOrder: 2,
      holdSeconds: 0, // sold at once: every accepted order is a sale
      ...(roomRate ? { roomMode: "queue", roomRate } : {}),
      allocations,
    }),
  });
  if (response.status !== 201) {
    const problem = (await response.json().catch(() => ({}))) as { code?: string; detail?: string };
    throw new StackError(
      `creating the demo product failed: ${problem.code ?? response.status}: ${problem.detail ?? ""}`,
      "set FLUX_GATE_ADMIN_TOKEN to a global admin token",
    );
  }
  return { id, allocations };
}

/** Probe orders per group and side, sent one at a time before the sale: the relays count their round trips. */
const PROBES = 10;
const epochNow = () => performance.timeOrigin + performance.now();

/**
 * Near-home and far-home orders on each side, one at a time on a product of their own, each timed
 * and matched against the round trips the relays saw start and end within it.
 */
async function probeWan(
  config: Config,
  wan: WanLayout,
  who: (userId: string) => Promise<Record<string, string>>,
): Promise<{ productId: string; probes: WanSamples["probes"]; accepted: string[] }> {
  const sides = wan.edges.length;
  const product = await createSaleProduct(config, 2 * PROBES * sides * sides, undefined, "wan-probe");
  const regionIds = config.regions.map((r) => r.id);
  const runId = Date.now().toString(36);
  const sent: { group: WanGroup; from: number; to: number; ms: number }[] = [];
  const accepted: string[] = [];
  const since = epochNow();
  for (let round = 0; round < PROBES; round++)
    for (let i = 0; i < 2 * sides; i++) {
      const route = wanRoute(i, `probe-${runId}-${round}-${i}`, wan.edges, (u) => rendezvousHome(u, regionIds));
      const from = epochNow();
      const response = await fetch(`${route.edgeUrl}/v1/orders`, {
        method: "POST",
        headers: {
          "Content-Type": "application/json",
          "Idempotency-Key": crypto.randomUUID(),
          "X-Forwarded-For": `10.200.${round}.${i}`,
          ...(await who(route.userId)),
          ...route.headers,
        },
        body: JSON.stringify({ productId: product.id, quantity: 1 }),
      });
      const body = (await response.json().catch(() => ({}))) as { orderId?: string; code?: string; region?: string };
      const to = epochNow();
      if (body.orderId) accepted.push(body.orderId);
      if (response.status !== 202 || body.region !== route.side) {
        say(
          `a probe order at the ${route.side} edge answered ${response.status} ${body.code ?? body.region ?? ""}: left out of the round-trip count`,
        );
        continue;
      }
      sent.push({ group: route.group, from, to, ms: to - from });
    }
  const { exchanges } = (await (await fetch(`${wan.controlUrl}/exchanges?since=${since}`)).json()) as {
    exchanges: Exchange[];
  };
  const probes: WanSamples["probes"] = { near: [], far: [] };
  for (const p of sent) probes[p.group].push({ ms: p.ms, roundTrips: roundTripsWithin(exchanges, p.from, p.to) });
  return { productId: product.id, probes, accepted };
}

async function main(): Promise<number> {
  const crowd = flags.crowd === undefined ? undefined : count("crowd", flags.crowd.replace(/x$/, ""));
  // A crowd's queued buyers each look every half second: fewer of them fit this machine.
  const buyers = count("buyers", flags.buyers ?? (crowd ? "1000" : "3000"));
  const units = count("units", flags.units ?? (crowd ? "300" : "1000"));
  // The WAN run measures latency, not throughput: fewer buyers at once, so that the machine's
  // queueing does not hide the WAN's delay (docs/capacity.md#the-wan-simulated).
  const concurrency = count("concurrency", flags.concurrency ?? (flags.wan ? "8" : "64"));
  const roomRate = crowd === undefined ? undefined : count("room-rate", flags["room-rate"]!);
  // A demo on the local stack's defaults, as npm start runs it.
  process.env.FLUX_GATE_ENV ??= "development";
  if (flags.topology) process.env.FLUX_GATE_TOPOLOGY = oneOf("topology", flags.topology, TOPOLOGIES);
  if (!flags.wan && (flags["wan-delay-ms"] !== undefined || flags["wan-chart"] !== undefined))
    usage("--wan-delay-ms and --wan-chart go with --wan");
  if (flags.wan && crowd !== undefined) usage("--wan and --crowd do not go together");
  const config = loadConfig();
  let delayMs = 0;
  try {
    delayMs = parseWanDelay(flags["wan-delay-ms"]);
  } catch (error) {
    usage((error as Error).message);
  }
  const wan = flags.wan ? wanLayout(config, delayMs) : undefined;
  const restore = await ensureSystem(config, wan, flags["wan-delay-ms"] !== undefined);
  const { sql, db } = connectDatabase(config.postgres.url, { max: 2 });
  try {
    const product = await createSaleProduct(config, units, roomRate);
    say(
      `${buyers} buyers from ${config.regions.length} regions' countries want ${product.id}: ${units} units (${Object.entries(
        product.allocations,
      )
        .map(([r, n]) => `${r} ${n}`)
        .join(", ")})`,
    );

    const tally: Tally = {
      buyersDone: 0,
      buyers,
      requests: 0,
      accepted: 0,
      soldOut: 0,
      rateLimited: 0,
      failed: 0,
      p99Ms: null,
    };
    const latencies: number[] = [];
    const groupLatencies: Record<WanGroup, number[]> = { near: [], far: [] };
    /** Orders the buyer's edge's region took (no spillover), by group. */
    const groupServed: Record<WanGroup, number[]> = { near: [], far: [] };
    const live = process.stderr.isTTY;
    const draw = () => process.stderr.write(live ? `\r${progressLine(tally)}\x1b[K` : `${progressLine(tally)}\n`);
    const ticker = setInterval(
      () => {
        tally.p99Ms = quantile(latencies, 0.99);
        draw();
      },
      live ? 200 : 1_000,
    );
    const who = identity(config);
    const regionIds = config.regions.map((r) => r.id);
    const runId = Date.now().toString(36);
    const routeOf = (i: number) =>
      wanRoute(i, `demo-${runId}-${i}`, wan!.edges, (userId) => rendezvousHome(userId, regionIds));
    let probed: Awaited<ReturnType<typeof probeWan>> | undefined;
    if (wan) {
      say(`${PROBES} probe orders per group and side, one at a time, to count the round trips across the WAN`);
      probed = await probeWan(config, wan, who);
    }
    const started = performance.now();
    const onRequest = (status: number, code: string | undefined, ms: number, buyer: number, region?: string) => {
      tally.requests++;
      latencies.push(ms);
      if (wan) {
        const route = routeOf(buyer);
        groupLatencies[route.group].push(ms);
        if (status === 202 && region === route.side) groupServed[route.group].push(ms);
      }
      if (status === 429) tally.rateLimited++;
      else if (SOLD_OUT.has(code ?? "")) tally.soldOut++;
      else if (status !== 202) tally.failed++;
      else tally.accepted++;
    };
    const crowdRun =
      crowd === undefined
        ? undefined
        : await runCrowd({
            edgeUrl: appEndpoints(config).edge,
            productId: product.id,
            rate: roomRate!,
            multiple: crowd,
            buyers,
            drainSeconds: 60,
            headers: async (i) => ({ "CF-IPCountry": COUNTRIES[i % COUNTRIES.length]!, ...(await who(`crowd-${i}`)) }),
            onAnswer: (status, ms) => {
              tally.requests++;
              latencies.push(ms);
              if (status >= 500) tally.failed++;
            },
            onBuyer: (end) => {
              tally.buyersDone++;
              const row = outcomeOf(end);
              if (row === "accepted") tally.accepted++;
              else if (row.startsWith("sold out")) tally.soldOut++;
            },
          });
    const results = crowdRun
      ? []
      : await runBuyers({
          edgeUrl: appEndpoints(config).edge,
          productId: product.id,
          buyers,
          concurrency,
          buyersPerAddress: count("per-address", flags["per-address"]!),
          identity: who,
          ...(wan ? { route: (i: number) => routeOf(i) } : {}),
          onRequest,
          onBuyer: () => tally.buyersDone++,
        });
    clearInterval(ticker);
    tally.p99Ms = quantile(latencies, 0.99);
    draw();
    if (live) process.stderr.write("\n");
    const loadSeconds = (performance.now() - started) / 1000;

    // Time to drain: from the last answer until PostgreSQL holds every accepted order.
    const accepted = crowdRun?.orderIds ?? results.flatMap((r) => (r.orderId ? [r.orderId] : []));
    say(
      `load done in ${loadSeconds.toFixed(1)} s; waiting for PostgreSQL to hold the ${accepted.length} accepted orders`,
    );
    const drainStart = performance.now();
    const stored = async (): Promise<StoredOrder[]> =>
      db
        .select({
          id: orders.id,
          region: orders.region,
          originRegion: orders.originRegion,
          quantity: orders.quantity,
          status: orders.status,
        })
        .from(orders)
        .where(eq(orders.productId, product.id));
    const drained = await waitUntil(async () => (await stored()).length >= accepted.length, 60_000, 100);
    const drainSeconds = drained ? (performance.now() - drainStart) / 1000 : null;
    const rows = await stored();
    const regions = regionsReport(product.allocations, rows);
    const checks = integrity(units, regions, accepted, rows);
    const verified = await verify(config, {
      productIds: [product.id, ...(probed ? [probed.productId] : [])],
      settleMs: 10_000,
    });
    const wanReport =
      wan && probed
        ? wanFigures({ delayMs: wan.delayMs, served: groupServed, latencies: groupLatencies, probes: probed.probes })
        : undefined;
    if (wan && flags["wan-chart"]) {
      const file = flags["wan-chart"];
      writeFileSync(
        file,
        wanHistogramSvg(groupServed, {
          delayMs: wan.delayMs,
          subtitle: `npm run demo -- --wan: ${buyers} buyers, ${units} units, ${new Date().toISOString().slice(0, 10)}`,
        }),
      );
      say(`latency histogram written to ${file}`);
    }

    const report: DemoReport = {
      productId: product.id,
      buyers,
      units,
      requests: tally.requests,
      accepted: accepted.length,
      outcomes: buyerRows(crowdRun?.ends ?? results),
      rateLimited: tally.rateLimited,
      latencyMs: { p50: round(quantile(latencies, 0.5)), p99: round(quantile(latencies, 0.99)) },
      regions,
      spillovers: checks.spillovers,
      ordersInPostgres: rows.length,
      unitsSold: checks.unitsSold,
      oversold: checks.oversold,
      lost: checks.lost,
      unexpected: checks.unexpected,
      drainSeconds,
      verifyDrifts: verified.drifts.map((d) => `${d.region ?? "product"}: ${d.message}`),
      ...(crowdRun ? { room: crowdRun.figures } : {}),
      ...(wanReport ? { wan: wanReport } : {}),
    };
    console.log(flags.json ? JSON.stringify(report, null, 2) : formatReport(report));
    return report.oversold + report.lost + report.unexpected + report.verifyDrifts.length === 0 ? 0 : 1;
  } finally {
    await sql.end();
    await restore();
  }
}

const round = (ms: number | null) => (ms === null ? null : Math.round(ms * 10) / 10);

try {
  process.exitCode = await main();
} catch (error) {
  if (error instanceof ConfigError || error instanceof StackError) {
    console.error(`demo: ${error.message}`);
    if (error instanceof StackError && error.hint) console.error(error.hint);
    process.exitCode = 1;
  } else {
    throw error;
  }
}
