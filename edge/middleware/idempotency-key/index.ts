/**
 * The Idempotency-Key header (IETF draft), required where a retry must not act twice: missing is
 * `400 idempotency_key_missing`; it must be 1-255 visible ASCII characters. What the key means
 * (replay, in flight, reused) is decided by the admission step in the buyer's home region.
 */
import type { MiddlewareHandler } from "hono";
import { problem, problemResponse } from "../../../shared/problems.ts";

export type IdempotencyKeyVariables = { idempotencyKey: string };

const KEY = /^[\x21-\x7e]{1,255}$/;

export function idempotencyKey(): MiddlewareHandler<{ Variables: IdempotencyKeyVariables }> {
  return async (c, next) => {
    const key = c.req.header("Idempotency-Key");
    if (!key) return problemResponse(problem("idempotency_key_missing"));
    if (!KEY.test(key))
      return problemResponse(problem("invalid_request", "Idempotency-Key must be 1-255 visible ASCII characters"));
    c.set("idempotencyKey", key);
    await next();
  };
}
