/**
 * Real processes for pipeline tests: a core and a worker per region as child processes (so a
 * test can kill -9 them), a signed client for the core, and products in PostgreSQL.
 */
import type { RoomMode } from "../../shared/room-modes.ts";
import { afterAll, beforeAll } from "bun:test";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { eq, inArray } from "drizzle-orm";
import { connectDatabase } from "../../db/client.ts";
import { orders, products } from "../../db/schema.ts";
import { inventoryServices } from "../../admin/inventory/services.ts";
import { regionById, type AdminToken, type Region } from "../../shared/config.ts";
import { tokenChecker } from "../../admin/access/tokens.ts";
import { regionStats } from "../../admin/dashboard/stats.ts";
import { createAdminApp } from "../../admin/http/app.ts";
import { signRequest } from "../../shared/signing.ts";
import { answersHealth, spawnProcess } from "../../stack/apps.ts";
import { waitUntil } from "../../stack/process.ts";
import { config, uniqueName } from "./helpers.ts";

/**
 * Test cores listen apart from the ones `npm start` may be running. FLUX_GATE_TEST_PORT_SHIFT
 * moves them all, so two test runs on one machine (two checkouts) keep out of each other's way.
 */
const PORT_SHIFT = Number(process.env.FLUX_GATE_TEST_PORT_SHIFT ?? 0);
export const TEST_CORE_PORT = 18101 + PORT_SHIFT;
export const TEST_WORKER_PORT = 18401 + PORT_SHIFT;
export const TEST_ADMIN_PORT = 18701 + PORT_SHIFT;
export const testAdminUrl = `http://127.0.0.1:${TEST_ADMIN_PORT}`;

export const database = connectDatabase(config.postgres.url, { max: 4 });

export interface Child {
  pid: number;
  kill(signal?: NodeJS.Signals | number): Promise<void>;
}

export const testLog = (name: string) => join(config.home, "logs", `test-${name}.log`);

function spawnApp(entry: string, args: string[], extraEnv: Record<string, string>, name: string): Child {
  mkdirSync(join(config.home, "logs"), { recursive: true });
  const child = spawnProcess(testLog(name), [entry, ...args], {
    FLUX_GATE_CORE_PORT: String(TEST_CORE_PORT),
    FLUX_GATE_WORKER_PORT: String(TEST_WORKER_PORT),
    FLUX_GATE_ADMIN_PORT: String(TEST_ADMIN_PORT),
    ...extraEnv,
  });
  return {
    pid: child.pid,
    async kill(signal = "SIGTERM") {
      child.kill(signal);
      await child.exited;
    },
  };
}

export function testRegion(id = config.regions[0]!.id): Region {
  const region = regionById(config, id);
  const index = config.regions.indexOf(region);
  const corePort = TEST_CORE_PORT + index;
  const workerPort = TEST_WORKER_PORT + index;
  const core = { port: corePort, url: `http://127.0.0.1:${corePort}` };
  const worker = { port: workerPort, url: `http://127.0.0.1:${workerPort}` };
  return {
    ...region,
    corePort,
    coreUrl: core.url,
    cores: [core],
    workerPort,
    workerUrl: worker.url,
    workers: [worker],
  };
}

export async function startCore(regionId: string, env: Record<string, string> = {}): Promise<Child> {
  const { coreUrl } = testRegion(regionId);
  await expectPortFree(`${coreUrl}/health`, `core-${regionId}`);
  const child = spawnApp("core/main.ts", ["--region", regionId], env, `core-${regionId}`);
  await untilHealthy(coreUrl, `core-${regionId}`);
  return child;
}

/** Refuses to start beside a leftover process: its answers would pass for the new one's. */
async function expectPortFree(url: string, name: string): Promise<void> {
  const taken = await fetch(url).then(
    () => true,
    () => false,
  );
  if (taken)
    throw new Error(`something already answers at ${url}; a ${name} left over from another run? (stop it first)`);
}

/** Waits for the server at `url` to answer its /health (15 s at most). */
export async function untilHealthy(url: string, name: string): Promise<void> {
  const up = await waitUntil(() => answersHealth(url), 15_000, 100);
  if (!up) throw new Error(`${name} did not come up (see ${testLog(name)})`);
}

export function startWorker(regionId: string, env: Record<string, string> = {}): Child {
  return spawnApp("worker/main.ts", ["--region", regionId], env, `worker-${regionId}`);
}

/** The admin API as its own process, on the test cores, so a test can kill -9 it. */
export async function startAdmin(env: Record<string, string> = {}): Promise<Child> {
  await expectPortFree(`${testAdminUrl}/health`, "admin");
  const child = spawnApp("admin/main.ts", [], env, "admin");
  await untilHealthy(testAdminUrl, "admin");
  return child;
}

/**
 * A core and a worker for each region, around the tests of the enclosing describe block (or
 * file): started before the first test, stopped after the last. `cores` holds each region's
 * core, for a test that stalls one (SIGSTOP).
 */
export function withCoresAndWorkers(regionIds: string[]): { cores: Map<string, Child> } {
  const children: Child[] = [];
  const cores = new Map<string, Child>();
  beforeAll(async () => {
    for (const id of regionIds) {
      const core = await startCore(id);
      cores.set(id, core);
      children.push(core);
    }
    for (const id of regionIds) children.push(startWorker(id));
    // A worker serves /health before it joins its group: up means its process runs.
    await Promise.all(regionIds.map((id) => untilHealthy(testRegion(id).workerUrl, `worker-${id}`)));
  }, 60_000);
  afterAll(async () => {
    await Promise.all(children.map((c) => c.kill()));
  }, 30_000);
  return { cores };
}

export interface ProductSpec {
  units: Record<string, number>;
  holdSeconds?: number;
  perUserLimit?: number;
  maxPerOrder?: number;
  /** The waiting room: its mode and admissions per second per region. */
  room?: { mode: RoomMode; rate: number };
  /** The sale starts this long from now (it started a minute ago unless said). */
  startsInMs?: number;
  /** Inventory buckets per region (1 unless said). */
  buckets?: number;
}

function productInput(spec: Omit<ProductSpec, "units"> & { totalUnits: number }) {
  const id = uniqueName("p");
  return {
    id,
    name: `Test product ${id}`,
    totalUnits: spec.totalUnits,
    startsAt: new Date(Date.now() + (spec.startsInMs ?? -60_000)),
    endsAt: new Date(Date.now() + 3_600_000),
    perUserLimit: spec.perUserLimit ?? 5,
    maxPerOrder: spec.maxPerOrder ?? 5,
    holdSeconds: spec.holdSeconds ?? 600,
    ...(spec.room ? { roomMode: spec.room.mode, roomRate: spec.room.rate } : {}),
    ...(spec.buckets ? { buckets: spec.buckets } : {}),
  };
}

/** A product on sale for the next hour, in PostgreSQL only. */
export async function insertProduct(spec: Omit<ProductSpec, "units"> & { totalUnits: number }): Promise<string> {
  const input = productInput(spec);
  await database.db.insert(products).values(input);
  return input.id;
}

/** The admin's services in-process, driving the test cores of `regionIds`. */
export function adminServices(regionIds: string[]) {
  return inventoryServices(
    database.db,
    regionIds.map((id) => testRegion(id)),
  );
}

/** The admin API in-process over the test cores of `regionIds`, taking `tokens`, logging nothing. */
export function adminApp(regionIds: string[], tokens: AdminToken[]) {
  const { products, ledger } = adminServices(regionIds);
  const app = createAdminApp({
    db: database.db,
    products,
    ledger,
    regionIds,
    authenticate: tokenChecker(tokens),
    stats: regionStats(regionIds.map((r) => testRegion(r))),
    log: () => {},
  });
  return { app, ledger };
}

/**
 * A product created and allocated as an admin would (PostgreSQL, the ledger, each region's
 * core), in the regions named in `units`; `pool` units more stay unallocated.
 */
export async function createProduct(spec: ProductSpec & { pool?: number }): Promise<string> {
  const input = productInput({
    ...spec,
    totalUnits: Object.values(spec.units).reduce((a, b) => a + b, 0) + (spec.pool ?? 0),
  });
  const { products: service } = adminServices(Object.keys(spec.units));
  const created = await service.create(input);
  const allocated = await service.setAllocations(input.id, spec.units, "test");
  if (!created.ok || !allocated.ok || allocated.value.some((m) => m.transfer.state !== "completed")) {
    throw new Error(`creating ${input.id} failed: ${JSON.stringify({ created, allocated })}`);
  }
  return input.id;
}

export function coreClient(regionId: string) {
  const region = testRegion(regionId);
  async function call(method: string, path: string, body?: unknown): Promise<Response> {
    const text = body === undefined ? "" : JSON.stringify(body);
    const headers = { "Content-Type": "application/json", ...signRequest(region.coreSecret, method, path, text) };
    return fetch(region.coreUrl + path, { method, headers, body: text || undefined });
  }
  return {
    call,
    reserve: (r: { orderId?: string; userId: string; productId: string; quantity: number }) =>
      call("POST", "/v1/reservations", { orderId: crypto.randomUUID(), originRegion: regionId, ...r }),
  };
}

/** Runs `tasks` with at most `limit` in flight. */
export async function pooled<T>(count: number, limit: number, task: (i: number) => Promise<T>): Promise<T[]> {
  const results: T[] = new Array(count);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, count) }, async () => {
      while (next < count) {
        const i = next++;
        results[i] = await task(i);
      }
    }),
  );
  return results;
}

export async function ordersOf(productId: string) {
  return database.db.select().from(orders).where(eq(orders.productId, productId));
}

/** Waits until PostgreSQL holds every one of `ids` (or the time is up); returns the rows. */
export async function waitForOrders(productId: string, ids: string[], timeoutMs = 60_000) {
  const wanted = new Set(ids);
  let rows = await ordersOf(productId);
  await waitUntil(
    async () => {
      rows = await ordersOf(productId);
      return rows.filter((r) => wanted.has(r.id)).length === wanted.size;
    },
    timeoutMs,
    250,
  );
  return rows;
}

export async function ordersById(ids: string[]) {
  return ids.length === 0 ? [] : database.db.select().from(orders).where(inArray(orders.id, ids));
}
