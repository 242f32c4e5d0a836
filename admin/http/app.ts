/**
 * The admin API: products, allocations and transfers, behind bearer tokens with scopes.
 * It runs as its own process (admin/main.ts), apart from the cores: see docs/admin.md.
 * Every error is RFC 9457 problem+json with a stable code (shared/problems.ts).
 *
 * This module says which middleware runs where, in order; the routes are sub-apps by resource,
 * joined after the /v1 middleware so that it applies to them.
 */
import { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import { HTTPException } from "hono/http-exception";
import { requestId } from "hono/request-id";
import type { Database } from "../../db/client.ts";
import { PRODUCT_ID } from "../../shared/keys.ts";
import { problem, problemResponse, refuse, type ProblemCode } from "../../shared/problems.ts";
import type { Principal } from "../access/tokens.ts";
import { RegionUnavailable } from "../inventory/cores.ts";
import type { TransferLedger } from "../inventory/ledger.ts";
import type { ProductService } from "../inventory/products.ts";
import type { HistoryPoint } from "../dashboard/history.ts";
import type { RegionStats } from "../dashboard/stats.ts";
import { auditRoutes, auditTrail } from "./audit.ts";
import { bearerAuth, type AdminEnv } from "./auth.ts";
import { dashboardRoutes } from "./dashboard.ts";
import { productRoutes } from "./products.ts";
import { adminSchemas } from "./schemas.ts";
import { statsRoutes } from "./stats.ts";
import { transferRoutes } from "./transfers.ts";

export interface AdminDeps {
  db: Database;
  products: ProductService;
  ledger: TransferLedger;
  regionIds: string[];
  authenticate: (authorization: string | undefined) => Principal | undefined;
  /** Per-region rates and queues for the dashboard. */
  stats: () => Promise<RegionStats[]>;
  /** The last five minutes, for the dashboard's charts (admin/dashboard/history.ts). */
  history?: () => HistoryPoint[];
  log: (level: "info" | "warn" | "error", message: string, fields: Record<string, unknown>) => void;
}

const MAX_BODY_BYTES = 16_384;

const fail = (code: ProblemCode, detail?: string) => problemResponse(problem(code, detail));

export function createAdminApp({ db, products, ledger, regionIds, authenticate, stats, history, log }: AdminDeps) {
  const schemas = adminSchemas(regionIds);

  const app = new Hono<AdminEnv>();
  app.use(requestId());
  app.onError((error, c) => {
    if (error instanceof HTTPException && error.status < 500) return fail("invalid_request", error.message);
    log("error", "request failed", { requestId: c.get("requestId"), path: c.req.path, error: String(error) });
    return fail(
      "unavailable",
      error instanceof RegionUnavailable ? error.message : "a dependency of the admin API failed",
    );
  });
  app.notFound(() => fail("not_found", "no such route"));

  app.get("/health", (c) => c.json({ status: "ok" }));
  app.get("/ready", async (c) => {
    const postgres = await db.execute("select 1").then(
      () => true,
      () => false,
    );
    return c.json({ status: postgres ? "ready" : "not ready", postgres }, postgres ? 200 : 503);
  });

  app.route("/", dashboardRoutes());

  app.use(
    "/v1/*",
    bodyLimit({
      maxSize: MAX_BODY_BYTES,
      onError: () => fail("payload_too_large", `the limit is ${MAX_BODY_BYTES} bytes`),
    }),
  );
  // One JSON line per admin request: few, and each one matters.
  app.use("/v1/*", async (c, next) => {
    const started = performance.now();
    await next();
    log("info", "request", {
      requestId: c.get("requestId"),
      actor: c.get("principal")?.name ?? null,
      method: c.req.method,
      path: c.req.path,
      status: c.res.status,
      ms: Math.round(performance.now() - started),
    });
  });
  app.use("/v1/*", bearerAuth(authenticate));
  app.use(
    "/v1/*",
    auditTrail(db, (error) => log("error", "audit record failed", { error: String(error) })),
  );
  // A product id that cannot be one (a NUL byte, 500 characters) names no product: PostgreSQL
  // would refuse the query, and that is not a dependency failing.
  for (const path of ["/v1/products/:id/*", "/v1/regions/:region/products/:id/*"])
    app.use(path, async (c, next) => {
      const id = c.req.param("id") ?? "";
      return PRODUCT_ID.test(id) ? next() : refuse(c, "unknown_product", `no product ${JSON.stringify(id)}`);
    });

  return app
    .get("/v1/me", (c) => c.json(c.get("principal"), 200))
    .route("/", statsRoutes({ regionIds, stats, history }))
    .route("/", productRoutes({ products, regionIds, schemas }))
    .route("/", transferRoutes({ products, ledger, regionIds, schemas }))
    .route("/", auditRoutes(db, schemas));
}

/** The admin API's routes as Hono's typed client sees them (the CLI's, cli/admin-commands.ts). */
export type AdminApp = ReturnType<typeof createAdminApp>;
