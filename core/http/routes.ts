/**
 * The core's contract: every route with what it takes and what it answers. The core's app
 * implements these (core/http/app.ts); the edge and the admin API call them through Hono's typed
 * client (core/http/client.ts), so a route changed here breaks their build, not production.
 */
import { createRoute, z } from "@hono/zod-openapi";
import { ORDER_STATUSES, orderIdSchema } from "../../shared/events.ts";
import { PRODUCT_ID } from "../../shared/keys.ts";
import { PROBLEMS, problemContent, problemSchema, type ProblemStatus } from "../../shared/problems.ts";
import { ROOM_MODES } from "../../shared/room-modes.ts";

const reservationRequest = z.strictObject({
  orderId: orderIdSchema,
  userId: z.string().min(1).max(128),
  productId: z.string().regex(PRODUCT_ID),
  quantity: z.int(),
  originRegion: z.string().min(1).max(32),
  /**
   * The buyer's home region, where their allowance lives: the order and its events carry it so
   * the allowance comes back there. Optional for edges that predate it (their events fall back
   * to the hash of the user id).
   */
  homeRegion: z.string().min(1).max(32).optional(),
  /** Reserve nothing if this runs later (ms since the epoch, Redis's clock). */
  notAfter: z.int().positive().optional(),
});

/** Most reservations in one batch (POST /v1/reservations/batch). */
export const RESERVATION_BATCH_MAX = 128;
/**
 * A batch's body limit: each reservation is well under 1 KiB at its fields' longest (the single
 * route's limit, FLUX_GATE_MAX_BODY_BYTES, is 4 KiB).
 */
export const RESERVATION_BATCH_MAX_BYTES = RESERVATION_BATCH_MAX * 1_024;

const reservationBatch = z.strictObject({
  reservations: z.array(reservationRequest).min(1).max(RESERVATION_BATCH_MAX),
});

const changeId = z.string().min(1).max(128);
/** Apply nothing if this runs later (ms since the epoch, Redis's clock): store.allocation.allocate says why. */
const notAfter = z.int().positive().optional();

const allocationChange = z.strictObject({
  changeId,
  units: z.int().refine((n) => n !== 0, "must not be 0"),
  notAfter,
});

/** A release that must never apply from now on (the admin abandons its move), unless it has. */
const allocationBlock = z.strictObject({ changeId, units: z.int().negative(), notAfter });

const orderState = z.object({
  orderId: z.string(),
  status: z.enum(ORDER_STATUSES),
  /** When an unconfirmed hold runs out; null once sold. */
  expiresAt: z.string().nullable(),
});

const reservation = orderState.extend({
  region: z.string(),
  /** The region the buyer came from, as the order was first reserved. */
  originRegion: z.string().optional(),
  /** True when this order id was reserved before: nothing changed, this is the first outcome. */
  replayed: z.boolean(),
});

/** One reservation's outcome in a batch: the status and body the single route would have answered. */
const batchOutcome = z.object({
  status: z.int(),
  body: z.union([reservation, problemSchema.loose()]),
});

const order = orderState.extend({
  productId: z.string(),
  region: z.string(),
  originRegion: z.string(),
  userId: z.string(),
  /** Where the buyer's allowance for it lives (absent for orders from before homes were recorded). */
  homeRegion: z.string().optional(),
  quantity: z.number(),
  reservedAt: z.string().nullable(),
});

/** An order as the core tells it: what the edge reads of it, and passes on. */
export type CoreOrder = z.infer<typeof order>;

const stock = z.object({
  productId: z.string(),
  region: z.string(),
  allocated: z.number(),
  available: z.number(),
  held: z.number(),
  sold: z.number(),
});

const product = stock.extend({
  startsAt: z.string(),
  endsAt: z.string(),
  paused: z.boolean(),
  perUserLimit: z.number(),
  maxPerOrder: z.number(),
  roomMode: z.enum(ROOM_MODES),
  /** Orders the edge's waiting room admits per second in this region. */
  roomRate: z.number(),
});

/**
 * Any route may answer any problem of the registry: the signature check (401), the body limit
 * (413), a dependency that failed (503) and the store's refusals (shared/problems.ts says which
 * code has which status).
 */
const problems = Object.fromEntries(
  [...new Set(Object.values(PROBLEMS).map((p) => p.status))].map((status) => [
    status,
    { description: "A problem (shared/problems.ts)", content: problemContent },
  ]),
) as Record<ProblemStatus, { description: string; content: typeof problemContent }>;

const json = <T extends z.ZodType>(schema: T, description: string) => ({
  description,
  content: { "application/json": { schema } },
});

const idParam = z.object({ id: z.string() });
/** The caller's word on an order's product: the core finds a live order in Redis by it. */
const orderQuery = z.object({ productId: z.string().optional() });

export const coreRoutes = {
  reserve: createRoute({
    method: "post",
    path: "/v1/reservations",
    request: { body: { required: true, content: { "application/json": { schema: reservationRequest } } } },
    responses: { 202: json(reservation, "Reserved (or sold), or this order id's first outcome"), ...problems },
  }),
  /**
   * Reservations gathered by an edge, signed once: each is reserved as the single route would
   * (same checks, same idempotency by order id) and gets its own outcome, in the batch's order.
   * A batch that fails as a whole (a 5xx, no answer) settles none of its orders for the caller.
   */
  reserveBatch: createRoute({
    method: "post",
    path: "/v1/reservations/batch",
    request: { body: { required: true, content: { "application/json": { schema: reservationBatch } } } },
    responses: {
      200: json(z.object({ outcomes: z.array(batchOutcome) }), "Each reservation's own outcome, in order"),
      ...problems,
    },
  }),
  order: createRoute({
    method: "get",
    path: "/v1/orders/{id}",
    request: { params: idParam, query: orderQuery },
    responses: { 200: json(order, "The order, live from Redis or from PostgreSQL"), ...problems },
  }),
  confirm: createRoute({
    method: "post",
    path: "/v1/orders/{id}/confirm",
    request: { params: idParam, query: orderQuery },
    responses: { 200: json(orderState, "The order, confirmed (sold)"), ...problems },
  }),
  cancel: createRoute({
    method: "post",
    path: "/v1/orders/{id}/cancel",
    request: { params: idParam, query: orderQuery },
    responses: { 200: json(orderState, "The order, cancelled: its units are back"), ...problems },
  }),
  product: createRoute({
    method: "get",
    path: "/v1/products/{id}",
    request: { params: idParam },
    responses: { 200: json(product, "The region's counters and the sale's terms"), ...problems },
  }),
  adminProduct: createRoute({
    method: "get",
    path: "/admin/v1/products/{id}",
    request: { params: idParam },
    responses: { 200: json(product, "The region's counters and the sale's terms"), ...problems },
  }),
  activate: createRoute({
    method: "post",
    path: "/admin/v1/products/{id}/activate",
    request: { params: idParam },
    responses: { 200: json(stock, "The product's rules loaded from PostgreSQL; no unit moved"), ...problems },
  }),
  allocate: createRoute({
    method: "post",
    path: "/admin/v1/products/{id}/allocation",
    request: {
      params: idParam,
      body: { required: true, content: { "application/json": { schema: allocationChange } } },
    },
    responses: {
      200: json(stock.extend({ replayed: z.boolean() }), "Applied, or applied before under this change id"),
      ...problems,
    },
  }),
  blockAllocation: createRoute({
    method: "post",
    path: "/admin/v1/products/{id}/allocation/block",
    request: {
      params: idParam,
      body: { required: true, content: { "application/json": { schema: allocationBlock } } },
    },
    responses: {
      200: json(
        z.object({
          productId: z.string(),
          region: z.string(),
          changeId: z.string(),
          /** `applied`: a driver released `units` before the block came; `refused`: it never will. */
          outcome: z.enum(["applied", "refused"]),
          units: z.number(),
        }),
        "The release applied before, or refused for good",
      ),
      ...problems,
    },
  }),
};
