/**
 * Middleware: the body (or the query) as `schema` reads it, for the handler and for Hono's typed
 * client (the CLI's); a wrong one is the 400 that says what is wrong. Not hono/validator: an
 * empty body must reach the schema (rebalance's defaults), and a body is JSON whatever its
 * Content-Type says, as the API has always read it.
 */
import type { MiddlewareHandler } from "hono";
import type { z } from "zod";
import { describeIssues, problem, problemResponse } from "../../shared/problems.ts";
import type { AdminEnv } from "./auth.ts";

export function valid<T extends "json" | "query", S extends z.ZodType>(
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
        return problemResponse(problem("invalid_request", "the body must be JSON"));
      }
    }
    const parsed = schema.safeParse(value);
    if (!parsed.success) return problemResponse(problem("invalid_request", describeIssues(parsed.error.issues)));
    c.req.addValidatedData(target, parsed.data as object);
    await next();
  };
}
