/**
 * `npm run demo [-- --buyers N --units M --concurrency C --per-address K --json]`: a flash sale
 * against the running `npm start`, or on a stack and apps this command starts (and stops).
 * A fresh product with M units spread across the regions, N buyers from several countries at
 * the edge, a live line while they buy, then a report checked against PostgreSQL.
 * `--crowd X [--room-rate R]`: the product has a waiting room admitting R orders/s per region,
 * and the buyers arrive at X times that (demo/crowd.ts), as the room's page behaves.
 */
import { eq } from "drizzle-orm";
import { SignJWT } from "jose";
import { connectDatabase } from "../db/client.ts";
import { orders } from "../db/schema.ts";
import { commandLine } from "../shared/command-line.ts";
import { ConfigError, DEVELOPMENT_ADMIN_TOKEN, loadConfig, TOPOLOGIES, type Config } from "../shared/config.ts";
import { answersHealth, appEndpoints, claimRun, startApps, stopApps, type App } from "../stack/apps.ts";
import { StackError, waitUntil } from "../stack/process.ts";
import { stackDown, stackUp } from "../stack/stack.ts";
import { verify } from "../cli/verify/verify.ts";
import { COUNTRIES, runBuyers } from "./buyers.ts";
import { runCrowd } from "./crowd.ts";
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
  --concurrency C    buyers in flight at once (64)
  --per-address K    buyers sharing one client address (4)
  --crowd X          a waiting room: buyers arrive at X times its rate (10 or 10x), open-loop
  --room-rate R      the room's admissions per second per region, with --crowd (20)
  --topology scaled  on the scaled topology (docs/capacity.md); started if nothing runs
  --json             the report as JSON`;

const {
  values: flags,
  count,
  oneOf,
} = commandLine("demo", USAGE, {
  buyers: { type: "string" },
  units: { type: "string" },
  concurrency: { type: "string", default: "64" },
  "per-address": { type: "string", default: "4" },
  crowd: { type: "string" },
  "room-rate": { type: "string", default: "20" },
  topology: { type: "string" },
  json: { type: "boolean", default: false },
});

const say = (message: string) => console.error(`demo: ${message}`);

/** Uses a running system, or brings one up; returns how to put things back as they were. */
async function ensureSystem(config: Config): Promise<() => Promise<void>> {
  const urls = appEndpoints(config);
  if ((await answersHealth(urls.edge)) && (await answersHealth(urls.admin))) {
    say(`using the running system at ${urls.edge}`);
    return async () => {};
  }
  say("no running system found: starting the stack and the apps (npm start does this for good)");
  const run = claimRun(config);
  const { started } = await stackUp(config, (service, message) => say(`${service} ${message}`));
  let apps: App[] = [];
  try {
    apps = await startApps(config, run, (name, message) => say(`${name} ${message}`));
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
): Promise<{ id: string; allocations: Record<string, number> }> {
  const id = `flash-${Date.now().toString(36)}`;
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

async function main(): Promise<number> {
  const crowd = flags.crowd === undefined ? undefined : count("crowd", flags.crowd.replace(/x$/, ""));
  // A crowd's queued buyers each look every half second: fewer of them fit this machine.
  const buyers = count("buyers", flags.buyers ?? (crowd ? "1000" : "3000"));
  const units = count("units", flags.units ?? (crowd ? "300" : "1000"));
  const concurrency = count("concurrency", flags.concurrency!);
  const roomRate = crowd === undefined ? undefined : count("room-rate", flags["room-rate"]!);
  // A demo on the local stack's defaults, as npm start runs it.
  process.env.FLUX_GATE_ENV ??= "development";
  if (flags.topology) process.env.FLUX_GATE_TOPOLOGY = oneOf("topology", flags.topology, TOPOLOGIES);
  const config = loadConfig();
  const restore = await ensureSystem(config);
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
    const live = process.stderr.isTTY;
    const draw = () => process.stderr.write(live ? `\r${progressLine(tally)}\x1b[K` : `${progressLine(tally)}\n`);
    const ticker = setInterval(
      () => {
        tally.p99Ms = quantile(latencies, 0.99);
        draw();
      },
      live ? 200 : 1_000,
    );
    const started = performance.now();
    const who = identity(config);
    const onRequest = (status: number, code: string | undefined, ms: number) => {
      tally.requests++;
      latencies.push(ms);
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
    const verified = await verify(config, { productIds: [product.id], settleMs: 10_000 });

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
