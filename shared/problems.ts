/**
 * Every error Flux-Gate answers with, as RFC 9457 problem details. The code is the stable
 * contract; clients branch on it (or on `type`, which is derived from it), never on `title`.
 */
import { z } from "@hono/zod-openapi";
import type { Context } from "hono";

export const PROBLEM_CONTENT_TYPE = "application/problem+json";

export const PROBLEMS = {
  invalid_request: { status: 400, title: "The request is malformed or fails validation" },
  idempotency_key_missing: { status: 400, title: "This request needs an Idempotency-Key header" },
  unauthorized: { status: 401, title: "The request is not signed, or its signature is wrong or stale" },
  unauthenticated: { status: 401, title: "The request carries no valid credentials" },
  forbidden: { status: 403, title: "The credentials do not reach this region or action" },
  unknown_home_region: {
    status: 403,
    title: "The identity names a home region this deployment does not have; its buyer is served nowhere else",
  },
  not_found: { status: 404, title: "No such resource" },
  unknown_product: { status: 404, title: "The product is not on sale in this region" },
  sale_not_started: { status: 409, title: "The sale has not started yet" },
  sale_ended: { status: 409, title: "The sale has ended" },
  sale_paused: { status: 409, title: "The sale is paused" },
  sold_out: { status: 409, title: "No units are left in this region" },
  insufficient_stock: { status: 409, title: "Fewer units are left in this region than requested" },
  user_limit_exceeded: { status: 409, title: "The order would take the user past the per-user limit" },
  order_not_reserved: { status: 409, title: "The order is not in the reserved state" },
  idempotency_key_in_use: { status: 409, title: "A request with this Idempotency-Key is still being processed" },
  hold_expired: { status: 409, title: "The hold ran out before the order was confirmed" },
  admission_expired: {
    status: 409,
    title: "The waiting room admitted this order, and its window to order passed; a new Idempotency-Key queues again",
  },
  insufficient_available: {
    status: 409,
    title: "The region has fewer available (not held, not sold) units than the change takes",
  },
  insufficient_pool: { status: 409, title: "The product's unallocated pool has fewer units than the change takes" },
  total_below_allocated: { status: 409, title: "The total would be smaller than the units given to regions" },
  product_exists: { status: 409, title: "A product with this id exists" },
  transfer_conflict: { status: 409, title: "This transfer id was used for a different transfer" },
  transfer_in_progress: { status: 409, title: "Earlier moves of this product are still in flight" },
  move_abandoned: {
    status: 409,
    title: "An earlier move of the same allocation change did not complete, so this one was not made",
  },
  payload_too_large: { status: 413, title: "The request body is too large" },
  invalid_quantity: { status: 422, title: "The quantity is outside the product's bounds" },
  idempotency_key_reused: { status: 422, title: "This Idempotency-Key was used for a different request" },
  rate_limited: { status: 429, title: "Too many requests from this client; retry after the indicated time" },
  overloaded: { status: 503, title: "The region is shedding load; retry after the indicated time" },
  request_expired: {
    status: 503,
    title: "The request reached the region after its deadline; nothing was reserved or moved",
  },
  unavailable: { status: 503, title: "A dependency did not answer in time; retry after the indicated time" },
  not_replicated: {
    status: 503,
    title: "The units are held, but no replica confirmed it in time; retry with the same Idempotency-Key",
  },
} as const satisfies Record<string, { status: number; title: string }>;

export type ProblemCode = keyof typeof PROBLEMS;
export type ProblemStatus = (typeof PROBLEMS)[ProblemCode]["status"];

/** A problem as routes declare it (OpenAPI) and callers read it: extension members pass. */
export const problemSchema = z
  .object({ type: z.string(), title: z.string(), status: z.number(), code: z.string(), detail: z.string().optional() })
  .openapi("Problem");
export const problemContent = { [PROBLEM_CONTENT_TYPE]: { schema: problemSchema } };

export interface Problem {
  type: string;
  title: string;
  status: number;
  code: ProblemCode;
  detail?: string;
  [extension: string]: unknown;
}

export function problemType(code: ProblemCode): string {
  return `urn:flux-gate:problem:${code}`;
}

export function problem(code: ProblemCode, detail?: string, extensions: Record<string, unknown> = {}): Problem {
  const { status, title } = PROBLEMS[code];
  return { type: problemType(code), title, status, code, ...(detail ? { detail } : {}), ...extensions };
}

/** Seconds a client should wait before retrying a 503. */
export const RETRY_AFTER_SECONDS = 1;

/** The headers a problem goes out with: its media type, and Retry-After on a 503 or 429 unless given. */
export function problemHeaders(status: number, headers: Record<string, string> = {}): Record<string, string> {
  const retry: Record<string, string> =
    status === 503 || status === 429 ? { "Retry-After": String(RETRY_AFTER_SECONDS) } : {};
  return { "Content-Type": PROBLEM_CONTENT_TYPE, ...retry, ...headers };
}

export function problemResponse(body: Problem, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), { status: body.status, headers: problemHeaders(body.status, headers) });
}

/**
 * A problem as a route's typed answer (`c.json`), its status the code's: Hono's typed client then
 * knows a route's refusals from its answers.
 */
export function refuse<C extends ProblemCode>(
  c: Context,
  code: C,
  detail?: string,
  extensions?: Record<string, unknown>,
) {
  const status: (typeof PROBLEMS)[C]["status"] = PROBLEMS[code].status;
  return c.json(problem(code, detail, extensions), status, problemHeaders(status));
}

/** A validation failure as one line for `detail`: `field: message; field: message`. */
export function describeIssues(issues: readonly { path: readonly PropertyKey[]; message: string }[]): string {
  return issues.map((i) => `${i.path.map(String).join(".") || "body"}: ${i.message}`).join("; ");
}
