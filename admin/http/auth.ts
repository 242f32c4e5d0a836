/** Bearer-token access for the admin API: who is calling (401 if no one), and where they reach (403). */
import type { Context, MiddlewareHandler } from "hono";
import { problem, problemResponse, refuse } from "../../shared/problems.ts";
import { reaches, type Principal } from "../access/tokens.ts";
import type { Transfer } from "../inventory/ledger.ts";

export type AdminEnv = { Variables: { principal: Principal; requestId: string } };

export function bearerAuth(
  check: (authorization: string | undefined) => Principal | undefined,
): MiddlewareHandler<AdminEnv> {
  return async (c, next) => {
    const principal = check(c.req.header("Authorization"));
    if (!principal) {
      return problemResponse(problem("unauthenticated", "send Authorization: Bearer <admin token>"), {
        "WWW-Authenticate": 'Bearer realm="flux-gate-admin"',
      });
    }
    c.set("principal", principal);
    await next();
  };
}

/** A 403 unless the caller's scopes reach `region` (or, for "global", everything). */
export function forbiddenUnlessReaches(c: Context<AdminEnv>, region: string | "global") {
  if (reaches(c.get("principal"), region)) return undefined;
  const needed = region === "global" ? "the global scope" : `scope region:${region} or global`;
  return refuse(c, "forbidden", `${c.get("principal").name} lacks ${needed}`);
}

/** Middleware: a route only callers whose scopes reach `region` (or "global") may use. */
export function requireScope(region: string | "global"): MiddlewareHandler<AdminEnv> {
  return async (c, next) => forbiddenUnlessReaches(c, region) ?? next();
}

/** Middleware: the path's region if the caller reaches it, or the 404/403 that says why not. */
export function regionAccess(regionIds: string[]): MiddlewareHandler<AdminEnv> {
  return async (c, next) => {
    const id = c.req.param("region")!;
    if (!regionIds.includes(id)) return refuse(c, "not_found", `no region ${id} (regions: ${regionIds.join(", ")})`);
    return forbiddenUnlessReaches(c, id) ?? next();
  };
}

/** The regions a non-global token reaches; undefined for a global one (no filter). */
export function ownRegions(c: Context<AdminEnv>, regionIds: string[]): string[] | undefined {
  return reaches(c.get("principal"), "global") ? undefined : regionIds.filter((r) => reaches(c.get("principal"), r));
}

/** A transfer is visible to the scopes of either side. */
export function visible(principal: Principal, t: Transfer): boolean {
  return reaches(principal, "global") || [t.fromRegion, t.toRegion].some((r) => r !== null && reaches(principal, r));
}
