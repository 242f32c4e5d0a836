/**
 * The core's HTTP API (internal: the edge calls it, signed). Routes translate between HTTP and
 * the region's store; every error is RFC 9457 problem+json with a stable code.
 */
import { Hono, type Context } from "hono";
import { bodyLimit } from "hono/body-limit";
import { requestId } from "hono/request-id";
import { z } from "zod";
import { PRODUCT_ID } from "../../shared/keys.ts";
import { describeIssues, problem, problemResponse, type ProblemCode } from "../../shared/problems.ts";
import type { Records } from "../records.ts";
import {
  isOutOfMemory,
  type OrderRecord,
  type OrderState,
  type Outcome,
  type RegionStore,
} from "../reservation/store.ts";
import type { Registry } from "prom-client";
import { instrument } from "../../shared/metrics.ts";
import { requireSignature } from "./signature.ts";

export interface CoreDeps {
  store: RegionStore;
  records: Records;
  /** Signs the edge's requests (/v1). */
  secret: string;
  /** Signs the admin API's requests (/admin/v1), which change allocations. */
  adminSecret: string;
  maxBodyBytes: number;
  /** Readiness of what the core needs beyond Redis (the Kafka producer). */
  ready?: () => boolean;
  /** Prometheus registry served at /metrics; the reservation outcomes are counted into it. */
  metrics?: { registry: Registry; reservation(outcome: string): void };
  /** Crash tests only (FLUX_GATE_TEST_CORE_HALT). */
  testHalt?: "allocation-applied";
}

/** Order ids in lower case: PostgreSQL's uuid reads `A…` and `a…` as one order, so Redis must too. */
const orderIdSchema = z.uuid().transform((id) => id.toLowerCase());

const reservationSchema = z.strictObject({
  orderId: orderIdSchema,
  userId: z.string().min(1).max(128),
  productId: z.string().regex(PRODUCT_ID),
  quantity: z.int(),
  originRegion: z.string().min(1).max(32),
  notAfter: z.int().positive().optional(),
});

const allocationChangeSchema = z.strictObject({
  changeId: z.string().min(1).max(128),
  units: z.int().refine((n) => n !== 0, "must not be 0"),
});

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

function orderBody(o: OrderRecord) {
  return { ...o, reservedAt: iso(o.reservedAt), expiresAt: iso(o.expiresAt) };
}

function stateBody(s: OrderState) {
  return { orderId: s.orderId, status: s.status, expiresAt: iso(s.expiresAt) };
}

function fail(code: ProblemCode, detail?: string, extensions?: Record<string, unknown>): Response {
  return problemResponse(problem(code, detail, extensions));
}

function refusal(outcome: Extract<Outcome<unknown>, { ok: false }>): Response {
  return fail(outcome.code, undefined, outcome.status ? { orderStatus: outcome.status } : {});
}

async function jsonBody(c: Context): Promise<unknown> {
  try {
    return await c.req.json();
  } catch {
    return undefined;
  }
}

/** The route's order id in lower case, or undefined if it is not a UUID. */
const orderIdParam = (c: Context) => orderIdSchema.safeParse(c.req.param("id")).data;

export function createCoreApp({
  store,
  records,
  secret,
  adminSecret,
  maxBodyBytes,
  ready = () => true,
  metrics,
  testHalt,
}: CoreDeps) {
  const app = new Hono();

  app.use(requestId());
  if (metrics) {
    instrument(app, metrics.registry);
  }
  let memoryLoggedAt = 0;
  app.onError((error, c) => {
    // A full Redis (noeviction) refuses every write: a refusal with a name, logged once a minute.
    if (isOutOfMemory(error)) {
      if (Date.now() - memoryLoggedAt > 60_000) {
        memoryLoggedAt = Date.now();
        console.error(
          JSON.stringify({
            level: "error",
            path: c.req.path,
            message: "Redis is out of memory (maxmemory): writes are refused",
            error: String(error),
          }),
        );
      }
      return fail("overloaded", "the region's Redis is out of memory (maxmemory reached) and takes no more writes");
    }
    // Anything else that reaches here is a dependency that failed or did not answer in time
    // (Redis, PostgreSQL): the request may be retried with the same order id, so 503 is the truth.
    console.error(
      JSON.stringify({ level: "error", requestId: c.get("requestId"), path: c.req.path, error: String(error) }),
    );
    return fail("unavailable", "a dependency of the core did not answer in time");
  });
  app.notFound(() => fail("not_found", "no such route"));

  app.get("/health", (c) => c.json({ status: "ok" }));
  app.get("/ready", async (c) => {
    const redis = await store.redis.ping().then(
      (r) => r === "PONG",
      () => false,
    );
    const kafka = ready();
    return c.json({ status: redis && kafka ? "ready" : "not ready", redis, kafka }, redis && kafka ? 200 : 503);
  });

  for (const [prefix, key] of [
    ["/v1/*", secret],
    ["/admin/v1/*", adminSecret],
  ] as const) {
    app.use(
      prefix,
      bodyLimit({
        maxSize: maxBodyBytes,
        onError: () => fail("payload_too_large", `the limit is ${maxBodyBytes} bytes`),
      }),
    );
    app.use(prefix, requireSignature(key));
  }

  app.post("/v1/reservations", async (c) => {
    const parsed = reservationSchema.safeParse(await jsonBody(c));
    if (!parsed.success) {
      return fail("invalid_request", describeIssues(parsed.error.issues));
    }
    const outcome = await store.reserve(parsed.data);
    metrics?.reservation(outcome.ok ? (outcome.value.replayed ? "replayed" : outcome.value.status) : outcome.code);
    if (!outcome.ok) return refusal(outcome);
    // A forgotten order's tombstone keeps its outcome only; PostgreSQL has the rest.
    const originRegion = outcome.value.originRegion || (await records.order(parsed.data.orderId))?.originRegion;
    return c.json(
      { ...stateBody(outcome.value), region: store.region, originRegion, replayed: outcome.value.replayed },
      202,
    );
  });

  /**
   * The product an order belongs to: the caller's word (`?productId=`; the edge notes it when
   * the order is placed), else PostgreSQL's, which has the order once the worker stored it.
   */
  async function productOf(c: Context, orderId: string): Promise<string | undefined> {
    const named = c.req.query("productId");
    if (named !== undefined) return PRODUCT_ID.test(named) ? named : undefined;
    return (await records.order(orderId))?.productId;
  }

  app.get("/v1/orders/:id", async (c) => {
    const id = orderIdParam(c);
    if (!id) return fail("not_found", "order ids are UUIDs");
    const productId = await productOf(c, id);
    // Redis has a live order's latest state; PostgreSQL has it once forgotten there.
    const order = (productId && (await store.order(productId, id))) || (await records.order(id));
    return order ? c.json(orderBody(order)) : fail("not_found", `no order ${id} in ${store.region}`);
  });

  for (const action of ["confirm", "cancel"] as const) {
    app.post(`/v1/orders/:id/${action}`, async (c) => {
      const id = orderIdParam(c);
      const productId = id ? await productOf(c, id) : undefined;
      if (!id || !productId) return fail("not_found", `no order ${c.req.param("id")} in ${store.region}`);
      const outcome = await store[action](productId, id);
      if (!outcome.ok) return refusal(outcome);
      return c.json(stateBody(outcome.value));
    });
  }

  const product = async (c: Context) => {
    const id = c.req.param("id")!;
    const [stock, window] = PRODUCT_ID.test(id) ? await Promise.all([store.stock(id), store.saleWindow(id)]) : [];
    return stock && window
      ? c.json({ productId: id, region: store.region, ...stock, ...window })
      : fail("unknown_product", `no product ${id} in ${store.region}`);
  };
  app.get("/v1/products/:id", product);
  app.get("/admin/v1/products/:id", product);

  /** Loads or refreshes the product's rules from PostgreSQL; moves no unit. */
  app.post("/admin/v1/products/:id/activate", async (c) => {
    const id = c.req.param("id");
    const rules = PRODUCT_ID.test(id) ? await records.rules(id) : undefined;
    if (!rules) return fail("unknown_product", `no product ${id}`);
    return c.json({ productId: id, region: store.region, ...(await store.activate(rules)) });
  });

  /** One allocation change of the admin's transfer ledger, applied once per change id. */
  app.post("/admin/v1/products/:id/allocation", async (c) => {
    const id = c.req.param("id");
    const parsed = allocationChangeSchema.safeParse(await jsonBody(c));
    if (!parsed.success) return fail("invalid_request", describeIssues(parsed.error.issues));
    if (!PRODUCT_ID.test(id)) return fail("unknown_product", `no product ${id}`);
    const outcome = await store.allocate(id, parsed.data.changeId, parsed.data.units);
    if (testHalt === "allocation-applied") await new Promise(() => {});
    if (!outcome.ok) return refusal(outcome);
    return c.json({ productId: id, region: store.region, ...outcome.value });
  });

  return app;
}
