/** Bearer-token access for the admin API: who is calling (401 if no one), and where they reach (403). */
import type { Context, MiddlewareHandler } from "hono";
import { problem, problemResponse, refuse } from "../../shared/problems.ts";
import { reaches, type Principal } from "../access/tokens.ts";

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
