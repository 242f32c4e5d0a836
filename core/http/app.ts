/**
 * The core's HTTP API (internal: the edge calls it, signed). Routes translate between HTTP and
 * the region's store; every error is RFC 9457 problem+json with a stable code.
 */
import { OpenAPIHono } from "@hono/zod-openapi";
import type { Context } from "hono";
import { bodyLimit } from "hono/body-limit";
import { HTTPException } from "hono/http-exception";
import { requestId } from "hono/request-id";
import type { Registry } from "prom-client";
import { orderIdSchema } from "../../shared/events.ts";
import { PRODUCT_ID } from "../../shared/keys.ts";
import { logger } from "../../shared/log.ts";
import { instrument } from "../../shared/metrics.ts";
import {
  describeIssues,
  problem,
  problemResponse,
  refuse,
  type Problem,
  type ProblemCode,
} from "../../shared/problems.ts";
import type { Records } from "../records.ts";
import { isOutOfMemory } from "../reservation/redis-info.ts";
import type { RegionStore } from "../reservation/store.ts";
import type { OrderRecord, OrderState, Outcome, Reservation, ReservationRequest } from "../reservation/types.ts";
import { coreRoutes as routes, RESERVATION_BATCH_MAX_BYTES } from "./routes.ts";
import { requireSignature } from "./signature.ts";

/**
 * How long one order of a batch may take: a quarter of the edge's default deadline
 * (FLUX_GATE_CORE_TIMEOUT_MS, 2 s), so its neighbours' answers leave with time to spare; a
 * reservation takes milliseconds, and one cut short is unsettled, which its retry settles.
 */
const BATCH_ORDER_LIMIT_MS = 500;

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
  testHalt?: "allocation-applied" | "batch-half-applied";
}

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

function orderBody(o: OrderRecord) {
  return { ...o, reservedAt: iso(o.reservedAt), expiresAt: iso(o.expiresAt) };
}

function stateBody(s: OrderState) {
  return { orderId: s.orderId, status: s.status, expiresAt: iso(s.expiresAt) };
}

function fail(code: ProblemCode, detail?: string): Response {
  return problemResponse(problem(code, detail));
}

function refusal(c: Context, outcome: Extract<Outcome<unknown>, { ok: false }>) {
  return refuse(c, outcome.code, undefined, outcome.status ? { orderStatus: outcome.status } : {});
}

/** A reservation's outcome as the routes answer it: 202 and the order, or its problem. */
type ReservationAnswer =
  | { status: 202; body: ReturnType<typeof stateBody> & { region: string; originRegion?: string; replayed: boolean } }
  | { status: number; body: Problem };

/** The route's order id in lower case, or undefined if it is not a UUID. */
const lowerCaseId = (id: string) => orderIdSchema.safeParse(id).data;

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
  const app = new OpenAPIHono({
    defaultHook: (result) => {
      if (!result.success) return fail("invalid_request", describeIssues(result.error.issues));
    },
  });

  app.use(requestId());
  if (metrics) {
    instrument(app, metrics.registry);
  }
  const log = logger("core", store.region);
  let memoryLoggedAt = 0;
  app.onError((error, c) => {
    // A full Redis (noeviction) refuses every write: a refusal with a name, logged once a minute.
    if (isOutOfMemory(error)) {
      if (Date.now() - memoryLoggedAt > 60_000) {
        memoryLoggedAt = Date.now();
        log.error("Redis is out of memory (maxmemory): writes are refused", {
          path: c.req.path,
          error: String(error),
        });
      }
      return fail("overloaded", "the region's Redis is out of memory (maxmemory reached) and takes no more writes");
    }
    // Hono's own 4xx (the JSON validator's "Malformed JSON in request body") are the caller's.
    if (error instanceof HTTPException && error.status < 500) return fail("invalid_request", error.message);
    // Anything else that reaches here is a dependency that failed or did not answer in time
    // (Redis, PostgreSQL): the request may be retried with the same order id, so 503 is the truth.
    log.error("request failed", { requestId: c.get("requestId"), path: c.req.path, error: String(error) });
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
    const limit = (maxSize: number) =>
      bodyLimit({ maxSize, onError: () => fail("payload_too_large", `the limit is ${maxSize} bytes`) });
    const single = limit(maxBodyBytes);
    const batch = limit(Math.max(maxBodyBytes, RESERVATION_BATCH_MAX_BYTES));
    // A batch of reservations may carry RESERVATION_BATCH_MAX of them; every other body one thing.
    app.use(prefix, (c, next) => (c.req.path === "/v1/reservations/batch" ? batch : single)(c, next));
    app.use(prefix, requireSignature(key));
  }

  /**
   * The product an order belongs to: the caller's word (`?productId=`; the edge notes it when
   * the order is placed), else PostgreSQL's, which has the order once the worker stored it.
   */
  async function productOf(named: string | undefined, orderId: string): Promise<string | undefined> {
    if (named !== undefined) return PRODUCT_ID.test(named) ? named : undefined;
    return (await records.order(orderId))?.productId;
  }

  const settle = async (c: Context, action: "confirm" | "cancel") => {
    const id = lowerCaseId(c.req.param("id") ?? "");
    const productId = id ? await productOf(c.req.query("productId"), id) : undefined;
    if (!id || !productId) return refuse(c, "not_found", `no order ${c.req.param("id")} in ${store.region}`);
    const outcome = await store[action](productId, id);
    if (!outcome.ok) return refusal(c, outcome);
    return c.json(stateBody(outcome.value), 200);
  };

  /** One reservation, as either route answers it; a store that failed throws, as for any route. */
  async function reserveOne(request: ReservationRequest): Promise<ReservationAnswer> {
    const outcome = await store.reserve(request);
    metrics?.reservation(outcome.ok ? (outcome.value.replayed ? "replayed" : outcome.value.status) : outcome.code);
    if (!outcome.ok) {
      const body = problem(outcome.code, undefined, outcome.status ? { orderStatus: outcome.status } : {});
      return { status: body.status, body };
    }
    return { status: 202, body: await reservationBody(request, outcome.value) };
  }

  async function reservationBody(request: ReservationRequest, reserved: Reservation) {
    // A forgotten order's tombstone keeps its outcome only; PostgreSQL has the rest.
    const originRegion = reserved.originRegion || (await records.order(request.orderId))?.originRegion;
    return { ...stateBody(reserved), region: store.region, originRegion, replayed: reserved.replayed };
  }

  /**
   * A batch's order that takes longer than BATCH_ORDER_LIMIT_MS (a forgotten order's origin
   * looked up in a slow PostgreSQL) is answered 503 on its own: its neighbours' answers, ready
   * long before, must not wait for it past the edge's deadline. It may still complete; the
   * buyer's retry replays it.
   */
  function withinOrderLimit(answer: Promise<ReservationAnswer>): Promise<ReservationAnswer> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error("the order did not finish within its share of the batch")),
        BATCH_ORDER_LIMIT_MS,
      );
    });
    return Promise.race([answer, late]).finally(() => clearTimeout(timer));
  }

  /** A batch's order whose store call failed: that order's problem, as onError answers one request. */
  function failedInBatch(error: unknown, requestId: string): ReservationAnswer {
    const body = isOutOfMemory(error)
      ? problem("overloaded", "the region's Redis is out of memory (maxmemory reached) and takes no more writes")
      : problem("unavailable", "a dependency of the core did not answer in time");
    if (!isOutOfMemory(error))
      log.error("request failed", { requestId, path: "/v1/reservations/batch", error: String(error) });
    return { status: body.status, body };
  }

  const product = async (c: Context) => {
    const id = c.req.param("id") ?? "";
    const [stock, window] = PRODUCT_ID.test(id) ? await Promise.all([store.stock(id), store.saleTerms(id)]) : [];
    return stock && window
      ? c.json({ productId: id, region: store.region, ...stock, ...window }, 200)
      : refuse(c, "unknown_product", `no product ${id} in ${store.region}`);
  };

  return (
    app
      .openapi(routes.reserve, async (c) => {
        const request = c.req.valid("json");
        const outcome = await store.reserve(request);
        metrics?.reservation(outcome.ok ? (outcome.value.replayed ? "replayed" : outcome.value.status) : outcome.code);
        if (!outcome.ok) return refusal(c, outcome);
        return c.json(await reservationBody(request, outcome.value), 202);
      })
      /**
       * Each reservation of the batch as the single route would reserve it (the store gathers each
       * product's into one script call), each with its own outcome; one that failed is that
       * order's 503, not its neighbours'.
       */
      .openapi(routes.reserveBatch, async (c) => {
        const { reservations } = c.req.valid("json");
        const requestId: string = c.get("requestId");
        const answer = (request: ReservationRequest) =>
          withinOrderLimit(reserveOne(request)).catch((error: unknown) => failedInBatch(error, requestId));
        if (testHalt === "batch-half-applied") {
          await Promise.all(reservations.slice(0, Math.ceil(reservations.length / 2)).map(answer));
          await new Promise(() => {});
        }
        const outcomes = await Promise.all(reservations.map(answer));
        return c.json({ outcomes }, 200);
      })
      .openapi(routes.order, async (c) => {
        const id = lowerCaseId(c.req.valid("param").id);
        if (!id) return refuse(c, "not_found", "order ids are UUIDs");
        const productId = await productOf(c.req.valid("query").productId, id);
        // Redis has a live order's latest state; PostgreSQL has it once forgotten there.
        const order = (productId && (await store.order(productId, id))) || (await records.order(id));
        return order ? c.json(orderBody(order), 200) : refuse(c, "not_found", `no order ${id} in ${store.region}`);
      })
      .openapi(routes.confirm, (c) => settle(c, "confirm"))
      .openapi(routes.cancel, (c) => settle(c, "cancel"))
      .openapi(routes.product, (c) => product(c))
      .openapi(routes.adminProduct, (c) => product(c))
      /** Loads or refreshes the product's rules from PostgreSQL; moves no unit. */
      .openapi(routes.activate, async (c) => {
        const id = c.req.valid("param").id;
        const rules = PRODUCT_ID.test(id) ? await records.rules(id) : undefined;
        if (!rules) return refuse(c, "unknown_product", `no product ${id}`);
        return c.json({ productId: id, region: store.region, ...(await store.activate(rules)) }, 200);
      })
      /** One allocation change of the admin's transfer ledger, applied once per change id. */
      .openapi(routes.allocate, async (c) => {
        const id = c.req.valid("param").id;
        const { changeId, units, notAfter } = c.req.valid("json");
        if (!PRODUCT_ID.test(id)) return refuse(c, "unknown_product", `no product ${id}`);
        const outcome = await store.allocation.allocate(id, changeId, units, notAfter);
        if (testHalt === "allocation-applied") await new Promise(() => {});
        if (!outcome.ok) return refusal(c, outcome);
        return c.json({ productId: id, region: store.region, ...outcome.value }, 200);
      })
      .openapi(routes.blockAllocation, async (c) => {
        const id = c.req.valid("param").id;
        const { changeId, units, notAfter } = c.req.valid("json");
        if (!PRODUCT_ID.test(id)) return refuse(c, "unknown_product", `no product ${id}`);
        const outcome = await store.allocation.block(id, changeId, units, notAfter);
        if (!outcome.ok) return refusal(c, outcome);
        const applied = outcome.value !== "refused";
        return c.json(
          {
            productId: id,
            region: store.region,
            changeId,
            outcome: applied ? ("applied" as const) : ("refused" as const),
            units: applied ? (outcome.value as number) : 0,
          },
          200,
        );
      })
  );
}

/** The core's routes as Hono's typed client sees them (core/http/client.ts). */
export type CoreApp = ReturnType<typeof createCoreApp>;
