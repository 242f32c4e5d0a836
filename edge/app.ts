/**
 * The edge: one Hono app, built from configuration, the same on Workers, Bun and Deno.
 * Per request: request id, body limit, validation (problem+json), identity, rate limit,
 * idempotency, region choice with spillover, and a signed call to the region's core.
 */
import { OpenAPIHono, createRoute, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import { bodyLimit } from "hono/body-limit";
import { HTTPException } from "hono/http-exception";
import { requestId } from "hono/request-id";
import { Redis as Upstash } from "@upstash/redis";
import { createHash } from "node:crypto";
import { regionVariable, requireSecrets, type Config, type Region } from "../shared/config.ts";
import { PRODUCT_ID } from "../shared/keys.ts";
import { describeIssues, problem, problemResponse, PROBLEM_CONTENT_TYPE } from "../shared/problems.ts";
import { callCore, type CoreAnswer } from "../shared/core-client.ts";
import { identity, type IdentityVariables } from "./middleware/identity/index.ts";
import { idempotency, type IdempotencyVariables } from "./middleware/idempotency/index.ts";
import { rateLimit } from "./middleware/rate-limit/index.ts";
import { deriveOrderId } from "./order-id.ts";
import { regionOrder, SPILLOVER_CODES } from "./regions.ts";

type Variables = IdempotencyVariables & IdentityVariables & { regions: Region[]; requestId: string };
type EdgeContext = Context<{ Variables: Variables }>;

const problemSchema = z.object({ type: z.string(), title: z.string(), status: z.number(), code: z.string(), detail: z.string().optional() }).openapi("Problem");
const problemContent = { [PROBLEM_CONTENT_TYPE]: { schema: problemSchema } };
const orderIdParam = z.object({ id: z.uuid().openapi({ param: { name: "id", in: "path" } }) });
const orderSchema = z
  .object({ orderId: z.uuid(), status: z.enum(["reserved", "confirmed", "cancelled", "expired"]), expiresAt: z.string().nullable(), region: z.string(), originRegion: z.string() })
  .openapi("Order");

const routes = {
  placeOrder: createRoute({
    method: "post",
    path: "/v1/orders",
    summary: "Reserve units of a product (Idempotency-Key required)",
    request: {
      headers: z.object({ "idempotency-key": z.string().min(1).max(255) }),
      body: { required: true, content: { "application/json": { schema: z.strictObject({ productId: z.string().regex(PRODUCT_ID), quantity: z.int() }).openapi("OrderRequest") } } },
    },
    responses: {
      202: { description: "Reserved (or sold, for products without a hold)", content: { "application/json": { schema: orderSchema } } },
      400: { description: "Malformed, or no Idempotency-Key", content: problemContent },
      401: { description: "No valid credentials", content: problemContent },
      409: { description: "Refused (sold out everywhere, limit, window) or the key is in flight", content: problemContent },
      422: { description: "Invalid quantity, or the key was used for another request", content: problemContent },
      429: { description: "Rate limited", content: problemContent },
      503: { description: "A region did not answer; retry with the same key", content: problemContent },
    },
  }),
  getOrder: createRoute({
    method: "get",
    path: "/v1/orders/{id}",
    summary: "An order of the calling user",
    request: { params: orderIdParam },
    responses: { 200: { description: "The order", content: { "application/json": { schema: orderSchema } } }, 404: { description: "No such order", content: problemContent } },
  }),
  cancelOrder: createRoute({
    method: "post",
    path: "/v1/orders/{id}/cancel",
    summary: "Cancel a reserved order; its units go back",
    request: { params: orderIdParam },
    responses: { 200: { description: "Cancelled", content: { "application/json": { schema: orderSchema } } }, 404: { description: "No such order", content: problemContent }, 409: { description: "Not reserved any more", content: problemContent } },
  }),
  product: createRoute({
    method: "get",
    path: "/v1/products/{id}",
    summary: "Units available per region and overall",
    request: { params: z.object({ id: z.string().regex(PRODUCT_ID).openapi({ param: { name: "id", in: "path" } }) }) },
    responses: {
      200: {
        description: "Availability (cached for 1 s)",
        content: { "application/json": { schema: z.object({ productId: z.string(), startsAt: z.string(), endsAt: z.string(), paused: z.boolean(), available: z.number(), regions: z.record(z.string(), z.object({ available: z.number(), held: z.number(), sold: z.number() })) }).openapi("Availability") } },
      },
      404: { description: "Not on sale in any region", content: problemContent },
    },
  }),
};

function fromCore(answer: CoreAnswer): Response {
  if (answer.kind === "answer") return Response.json(answer.body, { status: answer.status, headers: answer.status >= 400 ? { "Content-Type": PROBLEM_CONTENT_TYPE } : {} });
  const detail = answer.kind === "timeout" ? "the region did not answer in time" : "the region cannot be reached";
  return problemResponse(problem("unavailable", `${detail}; retry with the same Idempotency-Key`));
}

/** Every region's Redis (through its REST gateway), one client each for the app's life. */
function upstashClients(config: Config): Map<string, Upstash> {
  return new Map(
    config.regions.map((r) => [
      r.id,
      // Auto-pipelining: the commands of concurrent requests share one HTTP round trip.
      new Upstash({ url: r.redisRestUrl, token: r.redisRestToken, enableTelemetry: false, enableAutoPipelining: true, retry: { retries: 1 } }),
    ]),
  );
}

export function createEdgeApp(config: Config) {
  requireSecrets(config, [
    "FLUX_GATE_ORDER_ID_SECRET",
    ...config.regions.flatMap((r) => [regionVariable("CORE_SECRET", r.id), regionVariable("REDIS_REST_TOKEN", r.id)]),
  ]);
  const { edge } = config;
  const regionIds = config.regions.map((r) => r.id);
  const byId = new Map(config.regions.map((r) => [r.id, r]));
  const redis = upstashClients(config);
  /** A client's idempotency records and counters live in one region, whichever edge it reaches. */
  const anchorRegion = (userId: string) => regionIds[createHash("sha256").update(userId).digest().readUInt32BE(0) % regionIds.length]!;
  const userRedis = (c: Context) => redis.get(anchorRegion(c.get("userId")))!;

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
  app.onError((error, c) => {
    // Hono's own 4xx (the JSON validator's "Malformed JSON in request body") are the client's.
    if (error instanceof HTTPException && error.status < 500) return problemResponse(problem("invalid_request", error.message));
    console.error(JSON.stringify({ level: "error", component: "edge", requestId: c.get("requestId"), path: c.req.path, error: String(error) }));
    return problemResponse(problem("unavailable", "the edge could not complete the request"));
  });
  app.notFound(() => problemResponse(problem("not_found", "no such route")));

  app.get("/health", (c) => c.json({ status: "ok" }));
  // Ready when every region's Redis answers over REST: without them no order can be taken
  // (idempotency records and rate limits live there). Cores are not probed: a region whose
  // core is down is spilled over, not a reason to stop serving.
  app.get("/ready", async (c) => {
    const redisUp = Object.fromEntries(
      await Promise.all([...redis].map(async ([id, client]) => [id, await client.ping().then((r) => r === "PONG", () => false)] as const)),
    );
    const ready = Object.values(redisUp).every(Boolean);
    return c.json({ status: ready ? "ready" : "not ready", redis: redisUp }, ready ? 200 : 503);
  });
  app.doc("/openapi.json", { openapi: "3.0.3", info: { title: "Flux-Gate", version: "1.0.0", description: "Flash-sale order gate: the public API" } });

  app.use("/v1/*", bodyLimit({ maxSize: config.core.maxBodyBytes, onError: () => problemResponse(problem("payload_too_large")) }));
  app.use("/v1/*", async (c, next) => {
    const cf = (c.req.raw as Request & { cf?: { country?: string } }).cf;
    const order = regionOrder(edge.countryRegions, regionIds, { country: cf?.country ?? c.req.header("CF-IPCountry"), region: c.req.header("X-Region") });
    c.set("regions", order.map((id) => byId.get(id)!));
    await next();
  });
  // Unauthenticated traffic is counted per IP; a client with an identity is counted as itself.
  app.use(
    "/v1/products/*",
    rateLimit({
      policy: "ip",
      setting: edge.rateLimit.ip,
      redis: (c) => redis.get((c as EdgeContext).get("regions")[0]!.id)!,
      identify: (c) => c.req.header("CF-Connecting-IP") ?? c.req.header("X-Forwarded-For")?.split(",")[0]?.trim() ?? "unknown",
    }),
  );
  const requireIdentity = identity(edge);
  const userLimit = rateLimit({ policy: "user", setting: edge.rateLimit.user, redis: userRedis, identify: (c) => c.get("userId") });
  // "/v1/orders/*" matches "/v1/orders" too: once is enough, twice would count twice.
  app.use("/v1/orders/*", requireIdentity, userLimit);
  app.on("POST", "/v1/orders", idempotency({ redis: userRedis }));

  app.openapi(routes.placeOrder, async (c) => {
    const { productId, quantity } = c.req.valid("json");
    const userId = c.get("userId");
    const regions = c.get("regions");
    const reservation = { orderId: deriveOrderId(edge.orderIdSecret, userId, c.get("idempotencyKey")), userId, productId, quantity, originRegion: regions[0]!.id };
    let last: CoreAnswer | undefined;
    for (const region of regions) {
      last = await callCore(region, "POST", "/v1/reservations", reservation, edge.coreTimeoutMs, { requestId: c.get("requestId") });
      // Only a definitive "none left here" moves on: after a timeout or a 5xx the region may
      // have reserved, and a second region would sell the same intent twice.
      const code = last.kind === "answer" ? last.body.code : undefined;
      const spill = last.kind === "answer" && last.status === 409 && typeof code === "string" && SPILLOVER_CODES.has(code);
      if (!spill) break;
    }
    if (last?.kind === "answer" && last.status === 202) last.body = { ...last.body, originRegion: regions[0]!.id };
    return fromCore(last!) as never;
  });

  /** The calling user's order, from whichever region holds it. */
  async function findOrder(c: EdgeContext, id: string): Promise<{ region: Region; order: Record<string, unknown> } | Response> {
    for (const region of c.get("regions")) {
      const answer = await callCore(region, "GET", `/v1/orders/${id}`, undefined, edge.coreTimeoutMs, { requestId: c.get("requestId") });
      if (answer.kind !== "answer") return fromCore(answer);
      if (answer.status === 200 && answer.body.userId === c.get("userId")) return { region, order: answer.body };
    }
    return problemResponse(problem("not_found", `no order ${id}`));
  }

  const publicOrder = (o: Record<string, unknown>) => ({ orderId: o.orderId, productId: o.productId, quantity: o.quantity, status: o.status, expiresAt: o.expiresAt, region: o.region, originRegion: o.originRegion, reservedAt: o.reservedAt });

  app.openapi(routes.getOrder, async (c) => {
    const found = await findOrder(c, c.req.valid("param").id);
    return (found instanceof Response ? found : c.json(publicOrder(found.order), 200)) as never;
  });

  app.openapi(routes.cancelOrder, async (c) => {
    const id = c.req.valid("param").id;
    const found = await findOrder(c, id);
    if (found instanceof Response) return found as never;
    const answer = await callCore(found.region, "POST", `/v1/orders/${id}/cancel`, undefined, edge.coreTimeoutMs, { requestId: c.get("requestId") });
    if (answer.kind === "answer" && answer.status === 200) return c.json(publicOrder({ ...found.order, ...answer.body }), 200) as never;
    return fromCore(answer) as never;
  });

  const availability = new Map<string, { at: number; body: Record<string, unknown> }>();
  app.openapi(routes.product, async (c) => {
    const id = c.req.valid("param").id;
    const cached = availability.get(id);
    if (cached && Date.now() - cached.at < 1_000) return c.json(cached.body as never, 200, { "Cache-Control": "public, max-age=1" });
    const answers = await Promise.all(config.regions.map((r) => callCore(r, "GET", `/v1/products/${id}`, undefined, edge.coreTimeoutMs, { requestId: c.get("requestId") })));
    const regions: Record<string, { available: number; held: number; sold: number }> = {};
    for (const [i, answer] of answers.entries()) {
      if (answer.kind === "answer" && answer.status === 200) {
        const { available, held, sold } = answer.body as { available: number; held: number; sold: number };
        regions[config.regions[i]!.id] = { available, held, sold };
      }
    }
    if (Object.keys(regions).length === 0) {
      const failed = answers.find((a) => a.kind !== "answer" || a.body.code !== "unknown_product");
      return (failed ? fromCore(failed) : problemResponse(problem("unknown_product", `${id} is not on sale in any region`))) as never;
    }
    const sale = answers.find((a): a is Extract<CoreAnswer, { kind: "answer" }> => a.kind === "answer" && a.status === 200)!.body;
    const body = {
      productId: id,
      startsAt: sale.startsAt,
      endsAt: sale.endsAt,
      paused: sale.paused,
      available: Object.values(regions).reduce((n, r) => n + r.available, 0),
      regions,
    };
    availability.set(id, { at: Date.now(), body });
    return c.json(body, 200, { "Cache-Control": "public, max-age=1" }) as never;
  });

  return app;
}
