/**
 * The edge: one Hono app, built from configuration, the same on Workers, Bun and Deno; only the
 * way to a region's Redis differs (RESP or REST), passed in by the runtime's entry.
 * Per order: request id, body limit, validation (problem+json), identity, region choice, then
 * orders.ts: one admission round trip to the buyer's home region, the cores with spillover, the
 * answer, and the completion under the Idempotency-Key after it.
 */
import { OpenAPIHono, createRoute, z } from "@hono/zod-openapi";
import type { Instrumentable } from "../shared/metrics.ts";
import type { Context } from "hono";
import { bodyLimit } from "hono/body-limit";
import { HTTPException } from "hono/http-exception";
import { requestId } from "hono/request-id";
import { regionVariable, requireSecrets, type Config, type Region } from "../shared/config.ts";
import { coreClient, reach, type CoreClient } from "../core/http/client.ts";
import { BATCH_DEFAULTS, batched, perOrder } from "./reservations.ts";
import type { CoreOrder } from "../core/http/routes.ts";
import { ORDER_STATUSES } from "../shared/events.ts";
import { rendezvousHome } from "../shared/home-region.ts";
import { PRODUCT_ID } from "../shared/keys.ts";
import {
  describeIssues,
  problem,
  problemContent,
  problemHeaders,
  problemResponse,
  problemSchema,
} from "../shared/problems.ts";
import { clientAddress } from "./client-address.ts";
import type { HomeRedisTransport } from "./home/home.ts";
import { identity, type IdentityVariables } from "./middleware/identity/index.ts";
import { idempotencyKey, type IdempotencyKeyVariables } from "./middleware/idempotency-key/index.ts";
import { rateLimit, rateLimiter } from "./middleware/rate-limit/index.ts";
import { fromCore, type Answer } from "./answers.ts";
import { homesFor } from "./home/homes.ts";
import { orderService } from "./orders.ts";
import { regionOrder } from "./regions.ts";
import { AVAILABILITY_TTL_MS, availabilityCache } from "./availability.ts";
import { saleTermsCache, UNKNOWN_TTL_MS } from "./sale-terms.ts";
import { roomPage } from "./room/page.ts";
import { ROOM_STATES } from "./room/room.ts";
import { ticketKey, type Ticket } from "./room/ticket.ts";
import { freshStock, queueStatus, waitingRoom, type RoomObserver } from "./room/waiting-room.ts";

type Variables = IdempotencyKeyVariables & IdentityVariables & { regions: Region[]; requestId: string };

const orderIdParam = z.object({ id: z.uuid().openapi({ param: { name: "id", in: "path" } }) });
const orderSchema = z
  .object({
    orderId: z.uuid(),
    status: z.enum(ORDER_STATUSES),
    expiresAt: z.string().nullable(),
    region: z.string(),
    originRegion: z.string(),
  })
  .openapi("Order");

const queueSchema = z
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

const availabilitySchema = z
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

/**
 * An answer checked against what its route declares before it leaves: an order as a core tells
 * it (loose: the core's fields beyond the schema pass on), or a problem with a declared status.
 * Anything else is a region answering out of contract: 503.
 */
const orderBody = orderSchema.loose();
const problemBody = problemSchema.loose();
const outOfContract = (c: Context, what: string) =>
  c.json(
    problem("unavailable", `a region answered ${what}, which this route does not declare`),
    503,
    problemHeaders(503),
  );
function problemReply<S extends 400 | 401 | 404 | 409 | 422 | 429 | 503>(
  c: Context,
  answer: Answer,
  declared: readonly S[],
) {
  const parsed = problemBody.safeParse(answer.body);
  const status = declared.find((s) => s === answer.status);
  if (parsed.success && status !== undefined)
    return c.json(parsed.data, status, problemHeaders(status, answer.headers));
  return outOfContract(c, `${answer.status}`);
}

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

const routes = {
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

/** What a runtime's entry passes with each request (Hono's `env`). */
export interface EdgeEnv {
  /** The socket's peer address (Bun, Deno); Workers use CF-Connecting-IP. */
  clientAddress?: string;
}

export interface EdgeDeps {
  /** How this runtime reaches a region's Redis: RESP over TCP (Bun, Deno) or REST (Workers). */
  redis: HomeRedisTransport;
  /**
   * Adds request timing and /metrics (the Bun edge: shared/metrics.ts `instrument`). Injected,
   * so the Workers bundle carries no prom-client; Workers have Cloudflare's analytics.
   */
  instrument?: (app: Instrumentable) => void;
  /** Counts what the waiting room does (the Bun edge: edge/room/metrics.ts), injected for the same reason. */
  observeRoom?: RoomObserver;
  /**
   * `batched` (Bun, Deno): a region's reservations leave in batches (edge/reservations.ts);
   * `per-order` (Workers): one request per order.
   */
  reservations?: "batched" | "per-order";
}

export function createEdgeApp(config: Config, { redis, instrument, observeRoom, reservations = "batched" }: EdgeDeps) {
  requireSecrets(config, [
    "FLUX_GATE_ORDER_ID_SECRET",
    ...config.regions.flatMap((r) => [regionVariable("CORE_SECRET", r.id), ...redis.secrets(config, r.id)]),
  ]);
  const { edge } = config;
  const regionIds = config.regions.map((r) => r.id);
  const byId = new Map(config.regions.map((r) => [r.id, r]));
  const homes = homesFor(config, redis);
  const redisOf = (regionId: string) => homes.get(regionId)!.redis;
  const log = (fields: Record<string, unknown>) =>
    console.error(JSON.stringify({ time: new Date().toISOString(), component: "edge", ...fields }));
  const cores = new Map(config.regions.map((r) => [r.id, coreClient(r, { timeoutMs: edge.coreTimeoutMs })]));
  const core = (region: Region): CoreClient => cores.get(region.id)!;
  const askProduct = (region: Region, id: string) =>
    reach(() => core(region).v1.products[":id"].$get({ param: { id } }));
  const userLimiter = rateLimiter("user", edge.rateLimit.user);
  const terms = saleTermsCache(askProduct, config.regions);
  const availability = availabilityCache(askProduct);
  const ticketLimiter = rateLimiter("ticket", edge.rateLimit.ticket);
  const room = waitingRoom({
    config,
    homes,
    stock: freshStock(async (region, id) => {
      const answer = await askProduct(region, id);
      if (answer.kind !== "answer") return undefined;
      // Not on sale there is none to admit; unknown (no answer) leaves the room without a cap.
      return answer.status === 200 ? answer.body.available : answer.status === 404 ? 0 : undefined;
    }),
    key: ticketKey(edge.orderIdSecret),
    observe: observeRoom,
  });
  const reserveAt =
    reservations === "batched" ? batched(core, { timeoutMs: edge.coreTimeoutMs, ...BATCH_DEFAULTS }) : perOrder(core);
  const orders = orderService({ config, homes, core, reserveAt, userLimiter, terms, room, log });

  const app = new OpenAPIHono<{ Variables: Variables }>({
    defaultHook: (result) => {
      if (!result.success) {
        return problemResponse(problem("invalid_request", describeIssues(result.error.issues)));
      }
    },
  });

  app.use(requestId());
  // Responses built apart from `c` (problems from middleware, idempotent replays) would leave
  // without the header requestId() sets: put it on whatever goes out.
  app.use(async (c, next) => {
    await next();
    c.res.headers.set("X-Request-Id", c.get("requestId"));
  });
  instrument?.(app);
  app.onError((error, c) => {
    // Hono's own 4xx (the JSON validator's "Malformed JSON in request body") are the client's.
    if (error instanceof HTTPException && error.status < 500)
      return problemResponse(problem("invalid_request", error.message));
    log({ level: "error", requestId: c.get("requestId"), path: c.req.path, error: String(error) });
    return problemResponse(problem("unavailable", "the edge could not complete the request"));
  });
  app.notFound(() => problemResponse(problem("not_found", "no such route")));

  app.get("/health", (c) => c.json({ status: "ok" }));
  // Ready when every region's Redis answers: without them no order can be taken (buyers'
  // records live there). Cores are not probed: a region whose core is down is spilled over,
  // not a reason to stop serving.
  app.get("/ready", async (c) => {
    const redisUp = Object.fromEntries(
      await Promise.all(regionIds.map(async (id) => [id, await redisOf(id).ping()] as const)),
    );
    const ready = Object.values(redisUp).every(Boolean);
    return c.json({ status: ready ? "ready" : "not ready", redis: redisUp }, ready ? 200 : 503);
  });
  app.doc("/openapi.json", {
    openapi: "3.0.3",
    info: { title: "Flux-Gate", version: "1.0.0", description: "Flash-sale order gate: the public API" },
  });

  app.use(
    "/v1/*",
    bodyLimit({ maxSize: config.core.maxBodyBytes, onError: () => problemResponse(problem("payload_too_large")) }),
  );
  app.use("/v1/*", async (c, next) => {
    const cf = (c.req.raw as Request & { cf?: { country?: string } }).cf;
    const order = regionOrder(edge.countryRegions, regionIds, {
      country: cf?.country ?? c.req.header("CF-IPCountry"),
      region: c.req.header("X-Region"),
    });
    c.set(
      "regions",
      order.map((id) => byId.get(id)!),
    );
    await next();
  });
  // Unauthenticated traffic is counted per IP, in the IP's home region; a client with an
  // identity is counted as itself, in its own. The runtime's entry passes the socket's peer.
  const clientIp = (c: Context) =>
    clientAddress({
      onCloudflare: (c.req.raw as Request & { cf?: unknown }).cf !== undefined,
      cfConnectingIp: c.req.header("CF-Connecting-IP"),
      forwardedFor: c.req.header("X-Forwarded-For"),
      socket: (c.env as EdgeEnv | undefined)?.clientAddress,
      trustedProxies: edge.trustedProxies,
    });
  app.use(
    "/v1/products/*",
    rateLimit({
      limiter: rateLimiter("ip", edge.rateLimit.ip),
      redis: (c) => redisOf(rendezvousHome(clientIp(c), regionIds)).ratelimit,
      identify: clientIp,
    }),
  );
  app.use("/v1/orders/*", identity(edge, regionIds));
  // Placing an order counts in its admission round trip; looking one up or cancelling, here
  // ("/v1/orders/:id/*" matches "/v1/orders/:id" too, and not "/v1/orders").
  app.use(
    "/v1/orders/:id/*",
    rateLimit({
      limiter: userLimiter,
      redis: (c) => redisOf(c.get("homeRegion")).ratelimit,
      identify: (c) => c.get("userId"),
    }),
  );
  app.on("POST", "/v1/orders", idempotencyKey());

  /** An order's answer as its route declares it: an order, a ticket (303 to its page for a browser), or a problem. */
  const orderReply = (c: Context, answer: Answer) => {
    if (answer.status === 202) {
      const order = orderBody.safeParse(answer.body);
      if (order.success) return c.json(order.data, 202, answer.headers);
      const ticket = queueSchema.safeParse(answer.body);
      if (ticket.success) {
        const browser = (c.req.header("Accept") ?? "").split(",")[0]?.trim().startsWith("text/html");
        return browser ? c.redirect(ticket.data.links.page, 303) : c.json(ticket.data, 202, answer.headers);
      }
    }
    return problemReply(c, answer, [400, 401, 404, 409, 422, 429, 503]);
  };

  app.openapi(routes.placeOrder, async (c) => {
    const { productId, quantity } = c.req.valid("json");
    return orderReply(c, await orders.place(c, productId, quantity, c.get("regions")));
  });

  const noTicket = (c: Context) =>
    c.json(problem("not_found", "no such ticket (forged, expired or not a ticket)"), 404, problemHeaders(404));

  /**
   * A ticket's looks and orders count against the ticket's own limit, in its buyer's home region:
   * per ticket, not per buyer, since tickets travel in URLs and one that leaked must not use up
   * the buyer's other tickets.
   */
  const ticketRefusal = async (ticket: Ticket) => {
    const verdict = await ticketLimiter(redisOf(ticket.homeRegion).ratelimit, ticket.id);
    return verdict.success ? undefined : verdict.refusal();
  };

  app.openapi(routes.queueStatus, async (c) => {
    const token = c.req.valid("param").ticket;
    const ticket = await room.read(token);
    if (!ticket) return noTicket(c);
    const refused = await ticketRefusal(ticket);
    if (refused) return c.json(refused.body, 429, problemHeaders(429, refused.headers));
    const sale = await terms.get(ticket.productId);
    if (sale === "unavailable") return problemReply(c, fromCore({ kind: "timeout" }), [503]);
    const looked = sale && (await room.look(ticket, sale));
    if (!looked) return noTicket(c);
    return c.json(queueStatus(token, ticket, looked.standing, sale.roomRate, looked.elsewhere), 200);
  });

  app.openapi(routes.queueOrder, async (c) => {
    const ticket = await room.read(c.req.valid("param").ticket);
    if (!ticket) return noTicket(c);
    const refused = await ticketRefusal(ticket);
    if (refused) return c.json(refused.body, 429, problemHeaders(429, refused.headers));
    // The ticket stands for the request that took it: its buyer and home, its key, its product and units.
    c.set("userId", ticket.userId);
    c.set("homeRegion", ticket.homeRegion);
    c.set("idempotencyKey", ticket.idempotencyKey);
    const first = byId.get(c.req.valid("query").region ?? ticket.region) ?? byId.get(ticket.region);
    const regions = [...(first ? [first] : []), ...c.get("regions").filter((r) => r.id !== first?.id)];
    const ticketRoom = byId.get(ticket.region);
    return orderReply(c, await orders.place(c, ticket.productId, ticket.quantity, regions, { ticketRoom }));
  });

  // The room's page for browsers: it reads its ticket from its own path.
  app.get("/queue/:ticket", (c) =>
    c.html(roomPage, 200, {
      "Content-Security-Policy":
        "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
      "Cache-Control": "no-store",
    }),
  );

  /** What a buyer sees of an order: the core's record without its internals (the user id, …). */
  const publicOrder = (o: CoreOrder) =>
    orderBody.safeParse({
      orderId: o.orderId,
      productId: o.productId,
      quantity: o.quantity,
      status: o.status,
      expiresAt: o.expiresAt,
      region: o.region,
      originRegion: o.originRegion,
      reservedAt: o.reservedAt,
    });

  app.openapi(routes.getOrder, async (c) => {
    const found = await orders.find(c, c.req.valid("param").id, c.get("regions"));
    if (found.kind === "answer") return problemReply(c, found.answer, [404, 503]);
    const order = publicOrder(found.order);
    return order.success ? c.json(order.data, 200) : outOfContract(c, "an order this edge cannot read");
  });

  app.openapi(routes.cancelOrder, async (c) => {
    const cancelled = await orders.cancel(c, c.req.valid("param").id, c.get("regions"));
    if (cancelled.kind === "answer") return problemReply(c, cancelled.answer, [404, 409, 503]);
    const order = publicOrder(cancelled.order);
    return order.success ? c.json(order.data, 200) : outOfContract(c, "an order this edge cannot read");
  });

  app.openapi(routes.product, async (c) => {
    const id = c.req.valid("param").id;
    const rows = await availability.rows(config.regions, id);
    const sales = rows.flatMap((row, i) =>
      row.kind === "sale" ? [{ region: config.regions[i]!.id, sale: row.sale }] : [],
    );
    if (sales.length === 0) {
      if (rows.some((row) => row.kind === "unknown")) return problemReply(c, fromCore({ kind: "timeout" }), [503]);
      return c.json(
        problem("unknown_product", `${id} is not on sale in any region`),
        404,
        problemHeaders(404, { "Cache-Control": `public, max-age=${UNKNOWN_TTL_MS / 1000}` }),
      );
    }
    // A region that did not answer in time is a row of nulls: unknown, not empty.
    type Row = { available: number | null; held: number | null; sold: number | null };
    const regions: Record<string, Row> = {};
    for (const [i, row] of rows.entries()) {
      const region = config.regions[i]!.id;
      if (row.kind === "sale")
        regions[region] = { available: row.sale.available, held: row.sale.held, sold: row.sale.sold };
      else if (row.kind === "unknown") regions[region] = { available: null, held: null, sold: null };
    }
    const sale = sales[0]!.sale;
    const body = availabilitySchema.safeParse({
      productId: id,
      startsAt: sale.startsAt,
      endsAt: sale.endsAt,
      paused: sale.paused,
      available: sales.reduce((n, s) => n + s.sale.available, 0),
      regions,
    });
    if (!body.success) return outOfContract(c, "a sale this edge cannot read");
    return c.json(body.data, 200, { "Cache-Control": `public, max-age=${AVAILABILITY_TTL_MS / 1000}` });
  });

  return app;
}
