/**
 * The admin API: products, allocations and transfers, behind bearer tokens with scopes.
 * It runs as its own process (admin/main.ts), apart from the cores: see docs/admin.md.
 * Every error is RFC 9457 problem+json with a stable code (shared/problems.ts).
 */
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { Hono, type Context, type MiddlewareHandler } from "hono";
import { bodyLimit } from "hono/body-limit";
import { HTTPException } from "hono/http-exception";
import { requestId } from "hono/request-id";
import { desc } from "drizzle-orm";
import { z } from "zod";
import type { Database } from "../../db/client.ts";
import { adminAudit } from "../../db/schema.ts";
import { MAX_BUCKETS, PRODUCT_ID } from "../../shared/keys.ts";
import { ROOM_MODES } from "../../shared/room-modes.ts";
import { describeIssues, problem, problemResponse, refuse, type ProblemCode } from "../../shared/problems.ts";
import { reaches, type Principal } from "../access/tokens.ts";
import type { Transfer, TransferLedger } from "../inventory/ledger.ts";
import type { Change, MoveResult, ProductService } from "../inventory/products.ts";
import { HISTORY_SECONDS, type HistoryPoint } from "../dashboard/history.ts";
import type { RegionStats } from "../dashboard/stats.ts";
import { auditTrail } from "./audit.ts";
import { bearerAuth, forbiddenUnlessReaches, requireScope, type AdminEnv } from "./auth.ts";

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

const POOL = "pool";
const MAX_BODY_BYTES = 16_384;

const fail = (code: ProblemCode, detail?: string, extensions?: Record<string, unknown>) =>
  problemResponse(problem(code, detail, extensions));

/** A transfer as the API shows it: the pool is named "pool", not null. */
export type TransferBody = ReturnType<typeof transferBody>;
function transferBody(t: Transfer) {
  return {
    transferId: t.id,
    productId: t.productId,
    from: t.fromRegion ?? POOL,
    to: t.toRegion ?? POOL,
    units: t.units,
    state: t.state,
    ...(t.reason ? { reason: t.reason } : {}),
    requestedBy: t.requestedBy,
    createdAt: t.createdAt,
    updatedAt: t.updatedAt,
  };
}

/** A move its source could not give: 409 with the source's refusal. */
function failedMove(c: Context, transfer: Transfer, extensions: Record<string, unknown> = {}) {
  const source = transfer.fromRegion ?? "the unallocated pool";
  const detail = `${source} had fewer than ${transfer.units} units free to give; nothing moved (transfer ${transfer.id})`;
  return refuse(c, transfer.reason as ProblemCode, detail, { transfer: transferBody(transfer), ...extensions });
}

/** 201 done, 200 done before (same id), 202 still moving (a core is out of reach), 409 refused. */
function moveResponse(c: Context, { transfer, replayed }: MoveResult) {
  if (transfer.state === "failed") return failedMove(c, transfer);
  const status = transfer.state !== "completed" ? 202 : replayed ? 200 : 201;
  return c.json(transferBody(transfer), status);
}

/** A move refused before it started; the transfer it met is shown only to who may see it. */
function refusedMove(c: Context<AdminEnv>, refusal: Extract<Change<unknown>, { ok: false }>) {
  const shown = refusal.transfer && visible(c.get("principal"), refusal.transfer);
  return refuse(c, refusal.code, refusal.detail, shown ? { transfer: transferBody(refusal.transfer!) } : {});
}

/** A transfer is visible to the scopes of either side. */
function visible(principal: Principal, t: Transfer): boolean {
  return reaches(principal, "global") || [t.fromRegion, t.toRegion].some((r) => r !== null && reaches(principal, r));
}

/**
 * Middleware: the body (or the query) as `schema` reads it, for the handler and for Hono's typed
 * client (the CLI's); a wrong one is the 400 that says what is wrong. Not hono/validator: an
 * empty body must reach the schema (rebalance's defaults), and a body is JSON whatever its
 * Content-Type says, as the API has always read it.
 */
function valid<T extends "json" | "query", S extends z.ZodType>(
  target: T,
  schema: S,
): MiddlewareHandler<AdminEnv, string, { in: { [K in T]: z.input<S> }; out: { [K in T]: z.output<S> } }> {
  return async (c, next) => {
    let value: unknown = c.req.query();
    if (target === "json") {
      const text = await c.req.text();
      try {
        value = text === "" ? undefined : JSON.parse(text);
      } catch {
        return fail("invalid_request", "the body must be JSON");
      }
    }
    const parsed = schema.safeParse(value);
    if (!parsed.success) return fail("invalid_request", describeIssues(parsed.error.issues));
    c.req.addValidatedData(target, parsed.data as object);
    await next();
  };
}

const DASHBOARD = readFileSync(new URL("../dashboard/page.html", import.meta.url), "utf8");
// The chart library from node_modules, served by this process: no CDN, nothing fetched at run time.
const CHART_ASSETS: Record<string, { type: string; body: string }> = {
  "uplot.js": {
    type: "text/javascript",
    body: readFileSync(createRequire(import.meta.url).resolve("uplot/dist/uPlot.iife.min.js"), "utf8"),
  },
  "uplot.css": {
    type: "text/css",
    body: readFileSync(createRequire(import.meta.url).resolve("uplot/dist/uPlot.min.css"), "utf8"),
  },
};

export function createAdminApp({ db, products, ledger, regionIds, authenticate, stats, history, log }: AdminDeps) {
  const region = z.enum(regionIds as [string, ...string[]]);
  const units = z.int().min(1).max(1_000_000_000);
  const instant = z.iso.datetime({ offset: true }).transform((s) => new Date(s));
  const productFields = {
    name: z.string().min(1).max(200),
    totalUnits: z.int().min(0).max(1_000_000_000),
    startsAt: instant,
    endsAt: instant,
    perUserLimit: z.int().min(1),
    maxPerOrder: z.int().min(1),
    holdSeconds: z
      .int()
      .min(0)
      .max(7 * 24 * 3600),
    paused: z.boolean(),
    roomMode: z.enum(ROOM_MODES),
    roomRate: z.int().min(1).max(1_000_000),
  };
  const schemas = {
    create: z.strictObject({
      id: z.string().regex(PRODUCT_ID, "letters, digits, '.', '_' and '-', at most 64"),
      ...productFields,
      paused: productFields.paused.optional(),
      roomMode: productFields.roomMode.optional(),
      roomRate: productFields.roomRate.optional(),
      buckets: z.int().min(1).max(MAX_BUCKETS).optional(),
      allocations: z.partialRecord(region, z.int().min(0)).optional(),
    }),
    update: z
      .strictObject(productFields)
      .partial()
      .refine((o) => Object.keys(o).length > 0, "name at least one field to change"),
    allocations: z.strictObject({ regions: z.partialRecord(region, z.int().min(0)) }),
    claimOrRelease: z.strictObject({ units, transferId: z.uuid().optional() }),
    /** No body at all means the defaults. */
    rebalance: z.strictObject({ windowMinutes: z.int().min(1).max(1_440).default(15) }).default({ windowMinutes: 15 }),
    transfer: z
      .strictObject({
        transferId: z.uuid().optional(),
        productId: z.string().regex(PRODUCT_ID),
        from: z.union([region, z.literal(POOL)]),
        to: z.union([region, z.literal(POOL)]),
        units,
      })
      .refine((t) => t.from !== t.to, "from and to must differ"),
    /** `?limit=`, 1 to 1,000 (100 when absent). */
    list: z.object({
      productId: z.string().optional(),
      limit: z.coerce.number().int().min(1).max(1_000).default(100),
    }),
  };

  const app = new Hono<AdminEnv>();
  app.use(requestId());
  app.onError((error, c) => {
    if (error instanceof HTTPException && error.status < 500) return fail("invalid_request", error.message);
    log("error", "request failed", { requestId: c.get("requestId"), path: c.req.path, error: String(error) });
    const unavailable = error.name === "RegionUnavailable";
    return fail("unavailable", unavailable ? error.message : "a dependency of the admin API failed");
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

  // The page is public; everything it shows comes from /v1 with the token it signs in with.
  app.get("/dashboard", (c) =>
    c.html(DASHBOARD, 200, {
      // Its own script and styles only, talking to this origin; never framed.
      "Content-Security-Policy":
        "default-src 'none'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; connect-src 'self'; img-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
    }),
  );
  for (const [name, asset] of Object.entries(CHART_ASSETS)) {
    app.get(`/dashboard/${name}`, (c) =>
      c.body(asset.body, 200, {
        "Content-Type": `${asset.type}; charset=utf-8`,
        "Cache-Control": "public, max-age=86400",
      }),
    );
  }

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

  /** A product as the caller may see it: every region for global tokens, their own regions otherwise. */
  async function viewFor(c: Context<AdminEnv>, productId: string) {
    const view = await products.view(productId);
    if (!view || reaches(c.get("principal"), "global")) return view;
    const regions = view.regions.filter((r) => reaches(c.get("principal"), r.region));
    return { ...view, regions, available: regions.reduce((n, r) => n + (r.live?.available ?? 0), 0) };
  }

  /**
   * The answer to a set of moves: 409 with the first refusal's code; else 202 when one waits on
   * a core (the moves after it were abandoned, or finished if the resumer had started them: each
   * shows its state); else `success`. Each carries every move, so a partial change is never hidden.
   */
  async function allocationAnswer<Extra extends object = object>(
    c: Context<AdminEnv>,
    productId: string,
    moved: Change<MoveResult[]>,
    success: 200 | 201,
    extra?: Extra,
  ) {
    if (!moved.ok) return refusedMove(c, moved);
    const transfers = moved.value.map((m) => transferBody(m.transfer));
    const refused = moved.value.find((m) => m.transfer.state === "failed" && m.transfer.reason !== "move_abandoned");
    if (refused) return failedMove(c, refused.transfer, { ...extra, transfers });
    const waiting = moved.value.some((m) => m.transfer.state !== "completed");
    const view = (await viewFor(c, productId))!;
    return c.json({ ...view, ...(extra as Extra), transfers }, waiting ? 202 : success);
  }

  async function update(c: Context<AdminEnv>, change: z.output<typeof schemas.update>) {
    const updated = await products.update(c.req.param("id")!, change);
    return updated.ok ? c.json(updated.value, 200) : refuse(c, updated.code, updated.detail);
  }

  /** The path's region if the caller reaches it, or the 404/403 that says why not. */
  const regionAccess: MiddlewareHandler<AdminEnv> = async (c, next) => {
    const id = c.req.param("region")!;
    if (!regionIds.includes(id)) return refuse(c, "not_found", `no region ${id} (regions: ${regionIds.join(", ")})`);
    return forbiddenUnlessReaches(c, id) ?? next();
  };

  /** Pool → the path's region (claim) or back (release), answered as a move. */
  async function move(
    c: Context<AdminEnv>,
    direction: "claim" | "release",
    body: z.output<typeof schemas.claimOrRelease>,
  ) {
    const region = c.req.param("region")!;
    const ends = direction === "claim" ? { from: null, to: region } : { from: region, to: null };
    const moved = await products.move({
      id: body.transferId ?? crypto.randomUUID(),
      productId: c.req.param("id")!,
      units: body.units,
      requestedBy: c.get("principal").name,
      ...ends,
    });
    return moved.ok ? moveResponse(c, moved.value) : refusedMove(c, moved);
  }

  /** The regions a non-global token reaches; undefined for a global one (no filter). */
  function ownRegions(c: Context<AdminEnv>): string[] | undefined {
    return reaches(c.get("principal"), "global") ? undefined : regionIds.filter((r) => reaches(c.get("principal"), r));
  }

  const globalOnly = requireScope("global");

  return (
    app
      .get("/v1/me", (c) => c.json(c.get("principal"), 200))
      .get("/v1/stats", async (c) => {
        const own = ownRegions(c);
        return c.json({ regions: (await stats()).filter((r) => !own || own.includes(r.region)) }, 200);
      })
      // A region's token sees its own regions in every point; the edge's latency is everyone's.
      .get("/v1/stats/history", (c) => {
        const own = ownRegions(c);
        const points = (history?.() ?? []).map((p) =>
          own ? { ...p, regions: Object.fromEntries(Object.entries(p.regions).filter(([id]) => own.includes(id))) } : p,
        );
        return c.json({ seconds: HISTORY_SECONDS, points }, 200);
      })
      .get("/v1/products", async (c) => c.json({ products: await products.list() }, 200))
      .post("/v1/products", globalOnly, valid("json", schemas.create), async (c) => {
        const { allocations, ...input } = c.req.valid("json");
        const given = Object.values(allocations ?? {}).reduce((n: number, u) => n + (u ?? 0), 0);
        if (given > input.totalUnits)
          return refuse(c, "invalid_request", `allocations: ${given} units given, the total is ${input.totalUnits}`);
        const created = await products.create(input);
        if (!created.ok) return refuse(c, created.code, created.detail);
        const moved = allocations
          ? await products.setAllocations(input.id, allocations as Record<string, number>, c.get("principal").name)
          : { ok: true as const, value: [] };
        return allocationAnswer(c, input.id, moved, 201);
      })
      .get("/v1/products/:id", async (c) => {
        const view = await viewFor(c, c.req.param("id"));
        return view ? c.json(view, 200) : refuse(c, "unknown_product", `no product ${c.req.param("id")}`);
      })
      .patch("/v1/products/:id", globalOnly, valid("json", schemas.update), (c) => update(c, c.req.valid("json")))
      .post("/v1/products/:id/pause", globalOnly, (c) => update(c, { paused: true }))
      .post("/v1/products/:id/resume", globalOnly, (c) => update(c, { paused: false }))
      .put("/v1/products/:id/allocations", globalOnly, valid("json", schemas.allocations), async (c) => {
        const id = c.req.param("id");
        const targets = c.req.valid("json").regions as Record<string, number>;
        return allocationAnswer(c, id, await products.setAllocations(id, targets, c.get("principal").name), 200);
      })
      .post("/v1/products/:id/rebalance", globalOnly, valid("json", schemas.rebalance), async (c) => {
        const { windowMinutes } = c.req.valid("json");
        const id = c.req.param("id");
        const done = await products.rebalance(id, windowMinutes, c.get("principal").name);
        if (!done.ok) return refusedMove(c, done);
        const { demand, shares, moves } = done.value;
        return allocationAnswer(c, id, { ok: true, value: moves }, 200, { windowMinutes, demand, shares });
      })
      .get("/v1/regions/:region/products/:id", regionAccess, async (c) => {
        const region = c.req.param("region");
        const view = await products.view(c.req.param("id"));
        const here = view?.regions.find((r) => r.region === region);
        if (!view || !here) return refuse(c, "unknown_product", `no product ${c.req.param("id")}`);
        if (here.unreachable) return refuse(c, "unavailable", `${region}'s core did not answer`);
        const live = here.live ?? { allocated: 0, available: 0, held: 0, sold: 0 };
        return c.json({ productId: view.product.id, region, ...live, unallocated: view.unallocated }, 200);
      })
      .post("/v1/regions/:region/products/:id/claim", regionAccess, valid("json", schemas.claimOrRelease), (c) =>
        move(c, "claim", c.req.valid("json")),
      )
      .post("/v1/regions/:region/products/:id/release", regionAccess, valid("json", schemas.claimOrRelease), (c) =>
        move(c, "release", c.req.valid("json")),
      )
      .post("/v1/transfers", valid("json", schemas.transfer), async (c) => {
        const body = c.req.valid("json");
        // Units leave only with the consent of the side that gives them; the pool's are the
        // taker's to claim, as on the claim route.
        const denied = forbiddenUnlessReaches(c, body.from === POOL ? body.to : body.from);
        if (denied) return denied;
        const end = (r: string) => (r === POOL ? null : r);
        const moved = await products.move({
          id: body.transferId ?? crypto.randomUUID(),
          productId: body.productId,
          from: end(body.from),
          to: end(body.to),
          units: body.units,
          requestedBy: c.get("principal").name,
        });
        return moved.ok ? moveResponse(c, moved.value) : refusedMove(c, moved);
      })
      .get("/v1/transfers", valid("query", schemas.list), async (c) => {
        const { productId, limit } = c.req.valid("query");
        const transfers = await ledger.list({ productId, regions: ownRegions(c), limit });
        return c.json({ transfers: transfers.map(transferBody) }, 200);
      })
      .get("/v1/transfers/:id", async (c) => {
        const id = c.req.param("id");
        const transfer = z.uuid().safeParse(id).success ? await ledger.get(id) : undefined;
        if (!transfer || !visible(c.get("principal"), transfer)) return refuse(c, "not_found", `no transfer ${id}`);
        return c.json(transferBody(transfer), 200);
      })
      .get("/v1/audit", globalOnly, valid("query", schemas.list), async (c) => {
        const { limit } = c.req.valid("query");
        const entries = await db.select().from(adminAudit).orderBy(desc(adminAudit.id)).limit(limit);
        return c.json({ entries }, 200);
      })
  );
}

/** The admin API's routes as Hono's typed client sees them (the CLI's, cli/admin-commands.ts). */
export type AdminApp = ReturnType<typeof createAdminApp>;
