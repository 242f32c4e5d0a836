/**
 * Idempotency per the IETF Idempotency-Key draft, scoped per client, kept in Redis so that it
 * survives edge restarts:
 *   key missing → 400; same key in flight → 409; same key, other request → 422;
 *   same key, finished → the stored status and body again, with `Idempotent-Replayed: true`.
 * A 5xx is not stored: the client may retry, and the order id derived from the key makes the
 * retry land on the same reservation.
 */
import type { Context, MiddlewareHandler } from "hono";
import { createHash } from "node:crypto";
import type { Redis as Upstash } from "@upstash/redis";
import { problem, problemResponse, PROBLEM_CONTENT_TYPE } from "../../../shared/problems.ts";
import type { IdentityVariables } from "../identity/index.ts";

export type IdempotencyVariables = IdentityVariables & { idempotencyKey: string };

export interface IdempotencyOptions {
  redis: (c: Context) => Upstash;
  /** How long a finished request is remembered (the draft asks for at least 24 h). */
  keepSeconds?: number;
  /** How long an unfinished one blocks its key, should the edge die while serving it. */
  inFlightSeconds?: number;
}

type Stored =
  | { state: "in-flight"; fingerprint: string }
  | { state: "done"; fingerprint: string; status: number; contentType: string; body: string };

const KEY = /^[\x21-\x7e]{1,255}$/;

export function idempotencyRecordKey(userId: string, key: string): string {
  return `fg:idempotency:${userId}:${key}`;
}

export function idempotency({ redis, keepSeconds = 86_400, inFlightSeconds = 60 }: IdempotencyOptions): MiddlewareHandler<{ Variables: IdempotencyVariables }> {
  return async (c, next) => {
    const key = c.req.header("Idempotency-Key");
    if (!key) return problemResponse(problem("idempotency_key_missing"));
    if (!KEY.test(key)) return problemResponse(problem("invalid_request", "Idempotency-Key must be 1-255 visible ASCII characters"));
    c.set("idempotencyKey", key);

    const body = await c.req.text();
    const fingerprint = createHash("sha256").update(`${c.req.method}\n${new URL(c.req.url).pathname}\n${body}`).digest("hex");
    const store = redis(c);
    const recordKey = idempotencyRecordKey(c.get("userId"), key);

    const claimed = await store.set(recordKey, JSON.stringify({ state: "in-flight", fingerprint } satisfies Stored), { nx: true, ex: inFlightSeconds });
    if (claimed !== "OK") {
      const raw = await store.get<Stored | string>(recordKey);
      const stored: Stored | null = typeof raw === "string" ? (JSON.parse(raw) as Stored) : raw;
      if (!stored) return problemResponse(problem("idempotency_key_in_use", "retry shortly"));
      if (stored.fingerprint !== fingerprint) return problemResponse(problem("idempotency_key_reused"));
      if (stored.state === "in-flight") return problemResponse(problem("idempotency_key_in_use"), { "Retry-After": "1" });
      return new Response(stored.body, {
        status: stored.status,
        headers: { "Content-Type": stored.contentType, "Idempotent-Replayed": "true" },
      });
    }

    try {
      await next();
    } catch (error) {
      await store.del(recordKey);
      throw error;
    }
    if (c.res.status >= 500) {
      await store.del(recordKey);
      return;
    }
    const done: Stored = {
      state: "done",
      fingerprint,
      status: c.res.status,
      contentType: c.res.headers.get("Content-Type") ?? PROBLEM_CONTENT_TYPE,
      body: await c.res.clone().text(),
    };
    await store.set(recordKey, JSON.stringify(done), { ex: keepSeconds });
  };
}
