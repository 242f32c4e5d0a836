/** Middleware: only requests the edge signed with this region's secret get through. */
import type { MiddlewareHandler } from "hono";
import { SIGNATURE_HEADER, TIMESTAMP_HEADER, verifyRequest } from "../../shared/signing.ts";
import { problem, problemResponse } from "../../shared/problems.ts";

const REASONS = {
  missing: `the request is not signed (${TIMESTAMP_HEADER} and ${SIGNATURE_HEADER} are required)`,
  stale: "the signature's timestamp is more than 30 s from the core's clock",
  "bad-signature": "the signature does not match the request",
} as const;

export function requireSignature(secret: string): MiddlewareHandler {
  return async (c, next) => {
    const url = new URL(c.req.url);
    const verdict = verifyRequest(secret, {
      method: c.req.method,
      path: url.pathname + url.search,
      body: await c.req.text(),
      timestamp: c.req.header(TIMESTAMP_HEADER) ?? null,
      signature: c.req.header(SIGNATURE_HEADER) ?? null,
    });
    if (verdict !== "valid") return problemResponse(problem("unauthorized", REASONS[verdict]));
    await next();
  };
}
