/**
 * The audit trail: every change an admin asked for, refused ones included, recorded in
 * admin_audit (middleware), and read back by global tokens (GET /v1/audit).
 */
import { desc } from "drizzle-orm";
import { Hono, type MiddlewareHandler } from "hono";
import { routePath } from "hono/route";
import type { Database } from "../../db/client.ts";
import { adminAudit } from "../../db/schema.ts";
import { requireScope, type AdminEnv } from "./auth.ts";
import type { AdminSchemas } from "./schemas.ts";
import { valid } from "./validator.ts";

const text = (value: unknown) => (typeof value === "string" ? value : undefined);

export function auditTrail(db: Database, onError: (error: unknown) => void): MiddlewareHandler<AdminEnv> {
  return async (c, next) => {
    await next();
    const principal = c.get("principal");
    if (c.req.method === "GET" || !principal) return;
    const body: unknown = await c.req.json().catch(() => undefined);
    const target =
      typeof body === "object" && body !== null ? (body as { productId?: unknown; id?: unknown }) : undefined;
    const outcome = c.res.headers.get("Content-Type")?.includes("problem+json")
      ? await c.res
          .clone()
          .json()
          .catch(() => undefined)
      : undefined;
    await db
      .insert(adminAudit)
      .values({
        actor: principal.name,
        // After next(), the request is at its last matched route: the handler that answered.
        action: `${c.req.method} ${routePath(c, -1)}`,
        // The product is in the path, a transfer's body, or (creating one) the body's id.
        productId: c.req.param("id") ?? text(target?.productId) ?? text(target?.id) ?? null,
        region: c.req.param("region") ?? null,
        status: c.res.status,
        details: {
          requestId: c.get("requestId"),
          body,
          ...(outcome ? { problem: (outcome as { code?: string }).code } : {}),
        },
      })
      .catch(onError);
  };
}

export function auditRoutes(db: Database, schemas: AdminSchemas) {
  return new Hono<AdminEnv>().get("/v1/audit", requireScope("global"), valid("query", schemas.list), async (c) => {
    const { limit } = c.req.valid("query");
    const entries = await db.select().from(adminAudit).orderBy(desc(adminAudit.id)).limit(limit);
    return c.json({ entries }, 200);
  });
}
