/** Records every change an admin asked for, refused ones included, in admin_audit. */
import type { MiddlewareHandler } from "hono";
import { routePath } from "hono/route";
import type { Database } from "../../db/client.ts";
import { adminAudit } from "../../db/schema.ts";
import type { AdminEnv } from "./auth.ts";

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
