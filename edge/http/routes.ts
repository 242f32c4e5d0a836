/**
 * The edge's public contract: every route with what it takes and what it answers, as the
 * OpenAPI document (/openapi.json) shows it. The handlers (orders.ts, queue.ts, products.ts)
 * implement these; replies.ts checks each answer against them before it leaves.
 */
import { createRoute, z } from "@hono/zod-openapi";
import { ORDER_STATUSES } from "../../shared/events.ts";
import { PRODUCT_ID } from "../../shared/keys.ts";
import { problemContent } from "../../shared/problems.ts";
import { ROOM_STATES } from "../room/room.ts";

const orderIdParam = z.object({ id: z.uuid().openapi({ param: { name: "id", in: "path" } }) });
export const orderSchema = z
  .object({
    orderId: z.uuid(),
    status: z.enum(ORDER_STATUSES),
    expiresAt: z.string().nullable(),
    region: z.string(),
    originRegion: z.string(),
  })
  .openapi("Order");

export const queueSchema = z
  .object({
    ticket: z.string(),
    state: z.enum(ROOM_STATES),
    productId: z.string(),
    quantity: z.number(),
    region: z.string(),
    ahead: z.number(),
    waiting: z.number(),
    estimatedWaitSeconds: z.number().nullable(),
    admittedUntil: z.string().nullable(),
    elsewhere: z.array(z.object({ region: z.string(), available: z.number() })),
    pollAfterMs: z.number(),
    links: z.object({ status: z.string(), order: z.string(), page: z.string() }),
  })
  .openapi("QueueTicket");
const ticketParam = z.object({
  ticket: z
    .string()
    .min(1)
    .max(2_048)
    .openapi({ param: { name: "ticket", in: "path" } }),
});

export const availabilitySchema = z
  .object({
    productId: z.string(),
    startsAt: z.string(),
    endsAt: z.string(),
    paused: z.boolean(),
    available: z.number(),
    /** A region that did not answer in time: its row's numbers are null (unknown), and `available` leaves it out. */
    regions: z.record(
      z.string(),
      z.object({ available: z.number().nullable(), held: z.number().nullable(), sold: z.number().nullable() }),
    ),
  })
  .openapi("Availability");

/** What placing an order answers, from POST /v1/orders and from a ticket's order. */
const orderResponses = {
  202: {
    description: "Reserved (or sold, for products without a hold); or, when the waiting room holds it, a ticket",
    content: { "application/json": { schema: z.union([orderSchema, queueSchema]) } },
  },
  303: { description: "Queued, for a browser (Accept: text/html): the room's page" },
  400: { description: "Malformed, or no Idempotency-Key", content: problemContent },
  401: { description: "No valid credentials", content: problemContent },
  404: { description: "The product is not on sale in any region", content: problemContent },
  409: {
    description: "Refused (sold out everywhere, limit, window) or the key is in flight",
    content: problemContent,
  },
  422: { description: "Invalid quantity, or the key was used for another request", content: problemContent },
  429: { description: "Rate limited", content: problemContent },
  503: { description: "A region did not answer; retry with the same key", content: problemContent },
};

export const edgeRoutes = {
  placeOrder: createRoute({
    method: "post",
    path: "/v1/orders",
    summary: "Reserve units of a product (Idempotency-Key required)",
    request: {
      headers: z.object({ "idempotency-key": z.string().min(1).max(255) }),
      body: {
        required: true,
        content: {
          "application/json": {
            schema: z
              .strictObject({ productId: z.string().regex(PRODUCT_ID), quantity: z.int() })
              .openapi("OrderRequest"),
          },
        },
      },
    },
    responses: orderResponses,
  }),
  queueStatus: createRoute({
    method: "get",
    path: "/v1/queue/{ticket}",
    summary: "Where a queued order stands in the waiting room (no credentials: the ticket is one)",
    request: { params: ticketParam },
    responses: {
      200: { description: "The ticket's state", content: { "application/json": { schema: queueSchema } } },
      404: { description: "No such ticket (forged, expired, or not a ticket)", content: problemContent },
      429: {
        description: "The ticket's buyer looked too often (FLUX_GATE_RATE_LIMIT_TICKET)",
        content: problemContent,
      },
      503: { description: "The room's Redis did not answer; look again", content: problemContent },
    },
  }),
  queueOrder: createRoute({
    method: "post",
    path: "/v1/queue/{ticket}/order",
    summary: "Place the ticket's order once the room admits it (optionally in another region)",
    request: {
      params: ticketParam,
      query: z.object({ region: z.string().max(32).optional() }),
    },
    responses: orderResponses,
  }),
  getOrder: createRoute({
    method: "get",
    path: "/v1/orders/{id}",
    summary: "An order of the calling user",
    request: { params: orderIdParam },
    responses: {
      200: { description: "The order", content: { "application/json": { schema: orderSchema } } },
      404: { description: "No such order", content: problemContent },
      503: { description: "A region did not answer; retry", content: problemContent },
    },
  }),
  cancelOrder: createRoute({
    method: "post",
    path: "/v1/orders/{id}/cancel",
    summary: "Cancel a reserved order; its units go back",
    request: { params: orderIdParam },
    responses: {
      200: { description: "Cancelled", content: { "application/json": { schema: orderSchema } } },
      404: { description: "No such order", content: problemContent },
      409: { description: "Not reserved any more", content: problemContent },
      503: { description: "A region did not answer; retry", content: problemContent },
    },
  }),
  product: createRoute({
    method: "get",
    path: "/v1/products/{id}",
    summary: "Units available per region and overall",
    request: {
      params: z.object({
        id: z
          .string()
          .regex(PRODUCT_ID)
          .openapi({ param: { name: "id", in: "path" } }),
      }),
    },
    responses: {
      200: {
        description: "Availability (cached for 1 s); a region that did not answer within 250 ms has a row of nulls",
        content: {
          "application/json": {
            schema: availabilitySchema,
          },
        },
      },
      404: { description: "Not on sale in any region", content: problemContent },
      503: { description: "No region answered", content: problemContent },
    },
  }),
};
