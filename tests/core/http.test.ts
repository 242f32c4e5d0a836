/** The core's HTTP API in-process (app.request), on real Redis and PostgreSQL. */
import { afterAll, describe, expect, test } from "bun:test";
import { connectDatabase } from "../../db/client.ts";
import { allocations, orders } from "../../db/schema.ts";
import { createCoreApp } from "../../core/http/app.ts";
import { postgresRecords } from "../../core/records.ts";
import { RegionStore } from "../../core/reservation/store.ts";
import { RESERVATION_BATCH_MAX, RESERVATION_BATCH_MAX_BYTES } from "../../core/http/routes.ts";
import { productKeys } from "../../shared/keys.ts";
import { connectRedis } from "../../shared/redis.ts";
import { bunRedis } from "../../shared/bun-redis.ts";
import { signRequest } from "../../shared/signing.ts";
import { config, uniqueName, coreOrderPath } from "../support/helpers.ts";
import { insertProduct } from "../support/harness.ts";
import { blackhole } from "../support/edge.ts";

const REGION = "test-http";
const SECRET = "test-secret";
const ADMIN_SECRET = "test-admin-secret";
const redis = connectRedis(config.regions[0]!.redisUrl);
const { sql, db } = connectDatabase(config.postgres.url, { max: 2 });
const store = new RegionStore(redis, REGION, 1_000);
const app = createCoreApp({
  store,
  records: postgresRecords(db),
  secret: SECRET,
  adminSecret: ADMIN_SECRET,
  maxBodyBytes: 4_096,
});
afterAll(async () => {
  redis.disconnect();
  await sql.end();
});

async function signed(method: string, path: string, body = "", { secret = SECRET, at = Date.now() } = {}) {
  const headers = { "Content-Type": "application/json", ...signRequest(secret, method, path, body, at) };
  return app.request(path, { method, headers, body: body || undefined });
}

const admin = (path: string, body: unknown) => signed("POST", path, JSON.stringify(body), { secret: ADMIN_SECRET });

async function product(units = 10, holdSeconds = 600) {
  const id = await insertProduct({ totalUnits: units, perUserLimit: 4, maxPerOrder: 3, holdSeconds });
  await db.insert(allocations).values({ productId: id, region: REGION, units });
  const activated = await signed("POST", `/admin/v1/products/${id}/activate`, "", { secret: ADMIN_SECRET });
  expect(activated.status).toBe(200);
  const allocated = await signed(
    "POST",
    `/admin/v1/products/${id}/allocation`,
    JSON.stringify({ changeId: `${id}/initial`, units }),
    { secret: ADMIN_SECRET },
  );
  expect(allocated.status).toBe(200);
  return id;
}

const reservation = (productId: string, overrides: Record<string, unknown> = {}) =>
  JSON.stringify({
    orderId: crypto.randomUUID(),
    userId: "buyer",
    productId,
    quantity: 1,
    originRegion: REGION,
    ...overrides,
  });

async function expectProblem(response: Response, status: number, code: string) {
  expect(response.status).toBe(status);
  expect(response.headers.get("content-type")).toBe("application/problem+json");
  const body = (await response.json()) as Record<string, unknown>;
  expect(body).toMatchObject({ status, code, type: `urn:flux-gate:problem:${code}` });
  expect(typeof body.title).toBe("string");
  return body;
}

describe("reservations", () => {
  test("202 with the order id, status and expiry; a retry with the same id replays it", async () => {
    const productId = await product();
    const body = reservation(productId, { quantity: 2 });
    const first = await signed("POST", "/v1/reservations", body);
    expect(first.status).toBe(202);
    expect(first.headers.get("x-request-id")).toBeTruthy();
    const answer = (await first.json()) as { orderId: string; status: string; expiresAt: string; replayed: boolean };
    expect(answer).toMatchObject({
      orderId: JSON.parse(body).orderId,
      status: "reserved",
      region: REGION,
      replayed: false,
    });
    expect(Date.parse(answer.expiresAt) - Date.now()).toBeGreaterThan(590_000);

    const again = await signed("POST", "/v1/reservations", body);
    expect(await again.json()).toEqual({ ...answer, replayed: true });
    expect(await store.stock(productId)).toMatchObject({ available: 8, held: 2 });
  });

  test("the order is found by id, confirmed, and a second confirm is harmless", async () => {
    const productId = await product();
    const body = reservation(productId);
    const { orderId } = JSON.parse(body);
    await signed("POST", "/v1/reservations", body);
    const found = await signed("GET", coreOrderPath(orderId, { productId }));
    expect(await found.json()).toMatchObject({ orderId, productId, userId: "buyer", quantity: 1, status: "reserved" });
    // By its id alone the core asks PostgreSQL, which has the order once the worker stored it.
    await expectProblem(await signed("GET", coreOrderPath(orderId)), 404, "not_found");
    expect((await signed("POST", coreOrderPath(orderId, { productId, action: "confirm" }))).status).toBe(200);
    const twice = await signed("POST", coreOrderPath(orderId, { productId, action: "confirm" }));
    expect(await twice.json()).toMatchObject({ orderId, status: "confirmed" });
    expect(await store.stock(productId)).toMatchObject({ available: 9, held: 0, sold: 1 });
    await expectProblem(
      await signed("POST", coreOrderPath(orderId, { productId, action: "cancel" })),
      409,
      "order_not_reserved",
    );
  });

  test("an order Redis no longer knows is read from PostgreSQL", async () => {
    const productId = await product();
    const orderId = crypto.randomUUID();
    const reservedAt = new Date("2026-11-20T09:00:00Z");
    await db.insert(orders).values({
      id: orderId,
      productId,
      region: REGION,
      originRegion: "eu-west",
      userId: "archived",
      quantity: 2,
      status: "confirmed",
      reservedAt,
      expiresAt: null,
    });
    const found = await signed("GET", `/v1/orders/${orderId}`);
    expect(await found.json()).toEqual({
      orderId,
      productId,
      region: REGION,
      originRegion: "eu-west",
      userId: "archived",
      quantity: 2,
      status: "confirmed",
      reservedAt: reservedAt.toISOString(),
      expiresAt: null,
    });
  });

  test("a full outbox sheds load over HTTP: 503 overloaded with Retry-After, nothing reserved", async () => {
    const productId = await product(10);
    const tight = createCoreApp({
      store: new RegionStore(redis, REGION, 2),
      records: postgresRecords(db),
      secret: SECRET,
      adminSecret: ADMIN_SECRET,
      maxBodyBytes: 4_096,
    });
    const reserve = () => {
      const body = reservation(productId);
      return tight.request("/v1/reservations", {
        method: "POST",
        headers: { "Content-Type": "application/json", ...signRequest(SECRET, "POST", "/v1/reservations", body) },
        body,
      });
    };
    expect((await reserve()).status).toBe(202);
    expect((await reserve()).status).toBe(202);
    const shed = await reserve();
    await expectProblem(shed, 503, "overloaded");
    expect(shed.headers.get("retry-after")).toBe("1");
    expect(await store.stock(productId)).toMatchObject({ available: 8, held: 2 });
  });

  test("an unknown order is 404 problem+json", async () => {
    await expectProblem(await signed("GET", `/v1/orders/${crypto.randomUUID()}`), 404, "not_found");
    await expectProblem(await signed("POST", `/v1/orders/not-a-uuid/cancel`), 404, "not_found");
  });
});

describe("a batch of reservations (POST /v1/reservations/batch)", () => {
  const batch = (reservations: string[]) =>
    signed("POST", "/v1/reservations/batch", JSON.stringify({ reservations: reservations.map((r) => JSON.parse(r)) }));
  type Outcome = { status: number; body: Record<string, unknown> };
  const outcomesOf = async (response: Response) => {
    expect(response.status).toBe(200);
    return ((await response.json()) as { outcomes: Outcome[] }).outcomes;
  };

  test("each order gets exactly its own outcome; the batch retried whole changes nothing", async () => {
    const [productId, other] = [await product(6), await product(2)];
    const order = (user: string, quantity: number, id = crypto.randomUUID(), on = productId) =>
      reservation(on, { orderId: id, userId: user, quantity });
    const early = order("early", 3);
    expect((await signed("POST", "/v1/reservations", early)).status).toBe(202);
    const a = order("a", 1);
    const sent = [
      a, // reserved: 2 left
      a, // the same order id again in the batch: its first outcome, replayed
      early, // an order reserved before: replayed
      order("early", 2), // 3 + 2 > the limit of 4
      order("c", 3), // 2 left: insufficient_stock
      order("d", 2), // reserved: 0 left
      order("e", 1), // sold_out
      order("f", 9), // invalid_quantity
      order("g", 1, crypto.randomUUID(), other), // another product: reserved there
      order("h", 1, crypto.randomUUID(), "no-such-product"), // unknown_product
    ];
    const expected = [
      { status: 202, body: { orderId: JSON.parse(a).orderId, status: "reserved", replayed: false, region: REGION } },
      { status: 202, body: { orderId: JSON.parse(a).orderId, status: "reserved", replayed: true } },
      { status: 202, body: { orderId: JSON.parse(early).orderId, status: "reserved", replayed: true } },
      { status: 409, body: { code: "user_limit_exceeded" } },
      { status: 409, body: { code: "insufficient_stock" } },
      { status: 202, body: { orderId: JSON.parse(sent[5]!).orderId, status: "reserved", replayed: false } },
      { status: 409, body: { code: "sold_out" } },
      { status: 422, body: { code: "invalid_quantity" } },
      { status: 202, body: { orderId: JSON.parse(sent[8]!).orderId, status: "reserved", replayed: false } },
      { status: 404, body: { code: "unknown_product" } },
    ];
    const outcomes = await outcomesOf(await batch(sent));
    expect(outcomes).toHaveLength(sent.length);
    for (const [i, o] of outcomes.entries()) expect(o).toMatchObject(expected[i]!);
    expect(await store.stock(productId)).toMatchObject({ available: 0, held: 6 });
    expect(await store.stock(other)).toMatchObject({ available: 1, held: 1 });

    // Whole again (an edge that got no answer): every order reserved before is its first outcome, replayed.
    const again = await outcomesOf(await batch(sent));
    again.forEach((o, i) => {
      if (expected[i]!.status === 202)
        expect(o).toMatchObject({ status: 202, body: { ...expected[i]!.body, replayed: true } });
      else expect(o.status).toBe(expected[i]!.status);
    });
    expect(await store.stock(productId)).toMatchObject({ available: 0, held: 6 });
    expect(await store.stock(other)).toMatchObject({ available: 1, held: 1 });
    expect(await redis.xlen(productKeys(REGION, productId).outbox)).toBe(3);
  });

  test("many orders of one product in one batch: one each, no unit twice", async () => {
    const productId = await product(50);
    const sent = Array.from({ length: 100 }, (_, i) => reservation(productId, { userId: `many-${i}` }));
    const outcomes = await outcomesOf(await batch(sent));
    expect(outcomes.filter((o) => o.status === 202)).toHaveLength(50);
    expect(outcomes.slice(0, 50).map((o) => o.body.orderId)).toEqual(
      sent.slice(0, 50).map((r) => JSON.parse(r).orderId),
    );
    expect(outcomes.slice(50).every((o) => o.body.code === "sold_out")).toBe(true);
    expect(await store.stock(productId)).toMatchObject({ available: 0, held: 50 });
  });

  test("an oversized, empty, unsigned or malformed batch is a problem and reserves nothing", async () => {
    const productId = await product(200);
    const over = Array.from({ length: RESERVATION_BATCH_MAX + 1 }, () => reservation(productId));
    await expectProblem(await batch(over), 400, "invalid_request");
    await expectProblem(await batch([]), 400, "invalid_request");
    await expectProblem(await batch([reservation(productId, { quantity: "1" })]), 400, "invalid_request");
    const body = JSON.stringify({ reservations: [JSON.parse(reservation(productId))] });
    const unsigned = await app.request("/v1/reservations/batch", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body,
    });
    await expectProblem(unsigned, 401, "unauthorized");
    const huge = JSON.stringify({ reservations: [], padding: "x".repeat(RESERVATION_BATCH_MAX_BYTES) });
    await expectProblem(await signed("POST", "/v1/reservations/batch", huge), 413, "payload_too_large");
    expect(await store.stock(productId)).toMatchObject({ available: 200, held: 0 });
  });
});

describe("bad input gets the documented error and reserves nothing", () => {
  const cases: [string, (productId: string) => Response | Promise<Response>, number, string][] = [
    ["malformed JSON", () => signed("POST", "/v1/reservations", "{not json"), 400, "invalid_request"],
    ["a body that is not an object", () => signed("POST", "/v1/reservations", "[1,2]"), 400, "invalid_request"],
    [
      "a wrong type",
      (p) => signed("POST", "/v1/reservations", reservation(p, { quantity: "2" })),
      400,
      "invalid_request",
    ],
    [
      "a fractional quantity",
      (p) => signed("POST", "/v1/reservations", reservation(p, { quantity: 1.5 })),
      400,
      "invalid_request",
    ],
    [
      "a missing field",
      (p) => signed("POST", "/v1/reservations", reservation(p, { userId: undefined })),
      400,
      "invalid_request",
    ],
    [
      "an unknown field",
      (p) => signed("POST", "/v1/reservations", reservation(p, { price: 0 })),
      400,
      "invalid_request",
    ],
    [
      "an order id that is not a UUID",
      (p) => signed("POST", "/v1/reservations", reservation(p, { orderId: "42" })),
      400,
      "invalid_request",
    ],
    [
      "a product id with a hash tag in it",
      () => signed("POST", "/v1/reservations", reservation("{us-east:x}")),
      400,
      "invalid_request",
    ],
    [
      "a zero quantity",
      (p) => signed("POST", "/v1/reservations", reservation(p, { quantity: 0 })),
      422,
      "invalid_quantity",
    ],
    [
      "a negative quantity",
      (p) => signed("POST", "/v1/reservations", reservation(p, { quantity: -3 })),
      422,
      "invalid_quantity",
    ],
    [
      "a huge quantity",
      (p) => signed("POST", "/v1/reservations", reservation(p, { quantity: 2 ** 52 })),
      422,
      "invalid_quantity",
    ],
    [
      "an unknown product",
      () => signed("POST", "/v1/reservations", reservation(uniqueName("nope"))),
      404,
      "unknown_product",
    ],
    [
      "an oversized body",
      (p) => signed("POST", "/v1/reservations", reservation(p, { userId: "x".repeat(5_000) })),
      413,
      "payload_too_large",
    ],
    [
      "no signature",
      (p) => app.request("/v1/reservations", { method: "POST", body: reservation(p) }),
      401,
      "unauthorized",
    ],
    [
      "a wrong secret",
      (p) => signed("POST", "/v1/reservations", reservation(p), { secret: "guess" }),
      401,
      "unauthorized",
    ],
    [
      "a stale signature",
      (p) => signed("POST", "/v1/reservations", reservation(p), { at: Date.now() - 31_000 }),
      401,
      "unauthorized",
    ],
    [
      "a signature from the future",
      (p) => signed("POST", "/v1/reservations", reservation(p), { at: Date.now() + 31_000 }),
      401,
      "unauthorized",
    ],
    [
      "an allocation change of 0 units",
      (p) => admin(`/admin/v1/products/${p}/allocation`, { changeId: "zero", units: 0 }),
      400,
      "invalid_request",
    ],
    [
      "an allocation change without an id",
      (p) => admin(`/admin/v1/products/${p}/allocation`, { units: 2 }),
      400,
      "invalid_request",
    ],
    [
      "an allocation change taking more than is available",
      (p) => admin(`/admin/v1/products/${p}/allocation`, { changeId: "greedy", units: -11 }),
      409,
      "insufficient_available",
    ],
    [
      "an unsigned allocation change",
      (p) =>
        app.request(`/admin/v1/products/${p}/allocation`, {
          method: "POST",
          body: JSON.stringify({ changeId: "x", units: 5 }),
        }),
      401,
      "unauthorized",
    ],
    // The edge holds the core secret; adding units takes the admin secret.
    [
      "an allocation change signed with the edge's secret",
      (p) => signed("POST", `/admin/v1/products/${p}/allocation`, JSON.stringify({ changeId: "edge", units: 5 })),
      401,
      "unauthorized",
    ],
    [
      "an activation signed with the edge's secret",
      (p) => signed("POST", `/admin/v1/products/${p}/activate`),
      401,
      "unauthorized",
    ],
    [
      "a reservation whose body is not declared JSON (no Content-Type)",
      (p) => {
        const body = reservation(p, { quantity: 1 });
        return app.request("/v1/reservations", {
          method: "POST",
          headers: signRequest(SECRET, "POST", "/v1/reservations", body),
          body,
        });
      },
      400,
      "invalid_request",
    ],
    [
      "a signed body swapped for another",
      async (p) => {
        const headers = signRequest(SECRET, "POST", "/v1/reservations", reservation(p, { quantity: 1 }));
        return app.request("/v1/reservations", { method: "POST", headers, body: reservation(p, { quantity: 3 }) });
      },
      401,
      "unauthorized",
    ],
  ];

  const productId = product();
  test.each(cases)("%s", async (_, send, status, code) => {
    const p = await productId;
    await expectProblem(await send(p), status, code);
    expect(await store.stock(p)).toEqual({ allocated: 10, available: 10, held: 0, sold: 0 });
    expect(await redis.xlen(productKeys(REGION, p).outbox)).toBe(0);
  });
});

describe("an unreachable Redis", () => {
  const requestPaths = [
    ["ioredis", () => undefined],
    ["Bun's client on the request path, as the core runs", (url: string) => bunRedis(url, 300)],
  ] as const;
  test.each(requestPaths)(
    "gets 503 with Retry-After within the command deadline, not a hang (%s)",
    async (_, requestPath) => {
      // Accepts connections and never answers: the worst kind of unreachable.
      const stalled = await blackhole();
      const port = stalled.port;
      const silent = connectRedis(`redis://127.0.0.1:${port}`, { commandTimeoutMs: 300 });
      const path = requestPath(`redis://127.0.0.1:${port}`);
      const stuck = createCoreApp({
        store: new RegionStore(silent, REGION, 1_000, path?.send),
        records: postgresRecords(db),
        secret: SECRET,
        adminSecret: ADMIN_SECRET,
        maxBodyBytes: 4_096,
      });

      const body = reservation("any-product");
      const t0 = performance.now();
      const response = await stuck.request("/v1/reservations", {
        method: "POST",
        headers: { "Content-Type": "application/json", ...signRequest(SECRET, "POST", "/v1/reservations", body) },
        body,
      });
      // The deadline is 300 ms; what is more is the test's own machinery on a busy machine.
      expect(performance.now() - t0).toBeLessThan(1_000);
      await expectProblem(response, 503, "unavailable");
      expect(response.headers.get("retry-after")).toBe("1");
      const ready = await stuck.request("/ready");
      expect(ready.status).toBe(503);

      silent.disconnect();
      path?.close();
      stalled.close();
    },
  );
});
