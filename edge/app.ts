/**
 * The edge: one Hono app, built from configuration, the same on Workers, Bun and Deno; only the
 * way to a region's Redis differs (RESP or REST), passed in by the runtime's entry.
 * Per order: request id, body limit, validation (problem+json), identity, region choice, then
 * orders.ts: one admission round trip to the buyer's home region, the cores with spillover, the
 * answer, and the completion under the Idempotency-Key after it.
 *
 * This module builds the parts and says which middleware runs where, in order; the routes are
 * sub-apps by resource under http/, joined after the middleware so that it applies to them.
 */
import { OpenAPIHono } from "@hono/zod-openapi";
import type { Instrumentable } from "../shared/metrics.ts";
import type { Context } from "hono";
import { bodyLimit } from "hono/body-limit";
import { HTTPException } from "hono/http-exception";
import { requestId } from "hono/request-id";
import { regionVariable, requireSecrets, type Config, type Region } from "../shared/config.ts";
import { coreClient, reach, type CoreClient } from "../core/http/client.ts";
import { BATCH_DEFAULTS, batched, perOrder } from "./reservations.ts";
import { rendezvousHome } from "../shared/home-region.ts";
import { logger } from "../shared/log.ts";
import { describeIssues, problem, problemResponse } from "../shared/problems.ts";
import { clientAddress } from "./client-address.ts";
import type { HomeRedisTransport } from "./home/home.ts";
import { homesFor } from "./home/homes.ts";
import { orderRoutes } from "./http/orders.ts";
import { productRoutes } from "./http/products.ts";
import { queueRoutes } from "./http/queue.ts";
import type { EdgeHonoEnv } from "./http/variables.ts";
import { identity } from "./middleware/identity/index.ts";
import { idempotencyKey } from "./middleware/idempotency-key/index.ts";
import { rateLimit, rateLimiter } from "./middleware/rate-limit/index.ts";
import { orderService } from "./orders.ts";
import { regionOrder } from "./regions.ts";
import { availabilityCache } from "./availability.ts";
import { saleTermsCache } from "./sale-terms.ts";
import { ticketKey } from "./room/ticket.ts";
import { freshStock, waitingRoom, type RoomObserver } from "./room/waiting-room.ts";

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
  const log = logger("edge");
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

  const app = new OpenAPIHono<EdgeHonoEnv>({
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
    log.error("request failed", { requestId: c.get("requestId"), path: c.req.path, error: String(error) });
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

  return app
    .route("/", orderRoutes(orders))
    .route("/", queueRoutes({ regions: config.regions, homes, room, terms, orders, ticketLimiter }))
    .route("/", productRoutes({ regions: config.regions, availability }));
}
