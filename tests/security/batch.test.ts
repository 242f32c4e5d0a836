/**
 * The batch path read as an attacker would (edge/reservations.ts → POST /v1/reservations/batch →
 * the store's per-bucket script calls), an in-process core on real Redis and PostgreSQL, the
 * edge's own batcher over HTTP with its own signing. Each test failed before its fix.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { connectDatabase } from "../../db/client.ts";
import { allocations } from "../../db/schema.ts";
import { createCoreApp } from "../../core/http/app.ts";
import { coreClient as signedClient } from "../../core/http/client.ts";
import { postgresRecords, type Records } from "../../core/records.ts";
import { RegionStore } from "../../core/reservation/store.ts";
import { batched, type ReservationBody } from "../../edge/reservations.ts";
import type { Region } from "../../shared/config.ts";
import { orderKey } from "../../shared/keys.ts";
import { connectRedis } from "../../shared/redis.ts";
import { signRequest } from "../../shared/signing.ts";
import { config } from "../support/helpers.ts";
import { insertProduct } from "../support/harness.ts";

const REGION = "test-batch-review";
const SECRET = "test-secret";
const ADMIN_SECRET = "test-admin-secret";
const redis = connectRedis(config.regions[0]!.redisUrl);
const { sql, db } = connectDatabase(config.postgres.url, { max: 2 });
const store = new RegionStore(redis, REGION, 1_000);
const real = postgresRecords(db);
/** PostgreSQL as the core reads it; `stallOrders` makes its order look-ups hang (a PostgreSQL failing over). */
let stallOrders = false;
const records: Records = {
  ...real,
  order: async (id) => {
    if (stallOrders) await new Promise((r) => setTimeout(r, 5_000));
    return real.order(id);
  },
};
const app = createCoreApp({ store, records, secret: SECRET, adminSecret: ADMIN_SECRET, maxBodyBytes: 4_096 });
const server = Bun.serve({ port: 0, fetch: app.fetch });
const region = {
  id: REGION,
  coreUrl: `http://127.0.0.1:${server.port}`,
  cores: [{ port: server.port, url: `http://127.0.0.1:${server.port}` }],
  coreSecret: SECRET,
} as unknown as Region;
afterAll(async () => {
  server.stop(true);
  redis.disconnect();
  await sql.end();
});

async function signed(method: string, path: string, body = "", secret = SECRET) {
  const headers = { "Content-Type": "application/json", ...signRequest(secret, method, path, body) };
  return app.request(path, { method, headers, body: body || undefined });
}

async function product(units: number, holdSeconds: number) {
  const id = await insertProduct({ totalUnits: units, perUserLimit: 4, maxPerOrder: 3, holdSeconds });
  await db.insert(allocations).values({ productId: id, region: REGION, units });
  expect((await signed("POST", `/admin/v1/products/${id}/activate`, "", ADMIN_SECRET)).status).toBe(200);
  const allocation = JSON.stringify({ changeId: `${id}/initial`, units });
  expect((await signed("POST", `/admin/v1/products/${id}/allocation`, allocation, ADMIN_SECRET)).status).toBe(200);
  return id;
}

const reservation = (productId: string, userId: string): ReservationBody => ({
  orderId: crypto.randomUUID(),
  userId,
  productId,
  quantity: 1,
  originRegion: REGION,
  homeRegion: REGION,
  notAfter: Date.now() + 30_000,
});

describe("one slow order in a batch", () => {
  test("does not take its neighbours' answers with it: each order reserved in ms is answered within its deadline", async () => {
    // A forgotten order (its tombstone answers a retry; the answer's origin comes from PostgreSQL).
    const sold = await product(5, 0);
    const forgotten = reservation(sold, "old-buyer");
    expect((await signed("POST", "/v1/reservations", JSON.stringify(forgotten))).status).toBe(202);
    expect(await store.retention.forget(sold, [{ orderId: forgotten.orderId, status: "confirmed" }])).toEqual([
      forgotten.orderId,
    ]);

    // PostgreSQL stalls. The edge's batcher, as the Bun edge runs it (a 1 s deadline here).
    stallOrders = true;
    const reserveAt = batched(() => signedClient(region, { timeoutMs: 1_000 }), {
      timeoutMs: 1_000,
      maxBatch: 64,
      maxInFlight: 2,
    });
    const fresh = await product(10, 600);
    const others = Array.from({ length: 5 }, (_, i) => reservation(fresh, `fresh-${i}`));
    // The buyer of the forgotten order retries it at the same moment as 5 other buyers order: one batch.
    const [late, ...answers] = await Promise.all([forgotten, ...others].map((r) => reserveAt(region, r)));
    stallOrders = false;

    // Each of the 5 other orders was reserved at once (Redis has them)...
    for (const r of others) expect(await redis.exists(orderKey(REGION, fresh, r.orderId))).toBe(1);
    // ...so each buyer gets its 202, as one request per order gave it; only the stalled one is unsettled.
    // The stalled one is unsettled: no answer in time, or its own 503.
    expect(late!.kind === "timeout" || (late!.kind === "answer" && late!.status === 503)).toBe(true);
    expect(answers.map((a) => (a.kind === "answer" ? a.status : a.kind))).toEqual([202, 202, 202, 202, 202]);
  }, 30_000);
});
