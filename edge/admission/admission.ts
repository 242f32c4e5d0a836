/**
 * Admission in the buyer's home region: typed calls over the scripts in lua.ts. One script
 * claims the Idempotency-Key and takes the allowance; the caller pipelines the rate limit beside
 * it, so an order costs one round trip to the home region before any core is asked.
 */
import { buyerKeys } from "../../shared/keys.ts";
import type { HomeRedis } from "../home/home.ts";
import { ADMIT, COMPLETE, TRY_REGION } from "./lua.ts";

const scripts = {
  admit: ADMIT,
  tryRegion: TRY_REGION,
  complete: COMPLETE,
};

export type Admission =
  /** A new intent: the key is ours, the allowance taken, the first region named at `now`. */
  | { kind: "new"; now: number }
  /**
   * An intent whose last try ended without an answer: ask `tried`'s last region first. It was
   * last sent a request at `sent` (Redis's clock, as `now`).
   */
  | { kind: "resume"; tried: string[]; sent: number; now: number }
  | { kind: "replay"; status: number; contentType: string; body: string }
  | { kind: "in_flight"; retryAfterMs: number }
  | { kind: "reused" }
  /** The order would take the buyer past the product's per-user limit, all regions together. */
  | { kind: "limit"; counted: number };

/** The admission script's reply as a value. Pure. */
export function parseAdmission(reply: unknown): Admission {
  const [kind, a, b, c] = reply as [string, unknown, unknown, unknown];
  switch (kind) {
    case "new":
      return { kind, now: Number(a) };
    case "reused":
      return { kind };
    case "resume":
      return {
        kind,
        tried: String(a ?? "")
          .split(",")
          .filter(Boolean),
        sent: Number(b),
        now: Number(c),
      };
    case "replay":
      return { kind, status: Number(a), contentType: String(b), body: String(c) };
    case "in_flight":
      return { kind, retryAfterMs: Number(a) };
    case "limit":
      return { kind, counted: Number(a) };
    default:
      throw new Error(`the admission script answered ${JSON.stringify(reply)}`);
  }
}

export interface AdmissionRequest {
  userId: string;
  idempotencyKey: string;
  fingerprint: string;
  /** Which request this is: only the holder of the lease may complete the key. */
  token: string;
  orderId: string;
  productId: string;
  quantity: number;
  perUserLimit: number;
  /** The region asked first, named in the record before it is asked; empty when a waiting room decides. */
  firstRegion: string;
  /** When the allowance may be forgotten: the sale's end and a day more. */
  allowanceExpiresAt: number;
}

/** How a request let go of its key; see COMPLETE in lua.ts. */
export type Completion =
  | { outcome: "served"; answer: StoredAnswer; region: string }
  | { outcome: "refused"; answer: StoredAnswer }
  /** `restoreSent`: the last send was answered, so the one before it is what may still arrive. */
  | { outcome: "unsettled"; restoreSent?: number }
  | { outcome: "forget" };

export interface StoredAnswer {
  status: number;
  contentType: string;
  body: string;
}

export interface AdmissionSettings {
  /** How long a request may hold its key: longer than any request can take. */
  leaseMs: number;
  /** How long a finished request is remembered (the draft asks for at least 24 h). */
  keepSeconds: number;
}

export function admissionStore(redis: HomeRedis, { leaseMs, keepSeconds }: AdmissionSettings) {
  return {
    async admit(r: AdmissionRequest): Promise<Admission> {
      const keys = buyerKeys(r.userId);
      const reply = await redis.run(
        scripts.admit,
        [keys.idempotency(r.idempotencyKey), keys.allowance(r.productId), keys.orders],
        [
          r.fingerprint,
          r.token,
          leaseMs,
          keepSeconds,
          r.orderId,
          r.quantity,
          r.perUserLimit,
          r.firstRegion,
          r.allowanceExpiresAt,
          r.productId,
        ],
      );
      return parseAdmission(reply);
    },

    /** When the region was named (Redis's clock), or 0 when another request took the key over. */
    async tryRegion(r: AdmissionRequest, region: string): Promise<number> {
      const keys = buyerKeys(r.userId);
      return Number(
        await redis.run(
          scripts.tryRegion,
          [keys.idempotency(r.idempotencyKey), keys.orders],
          [r.token, region, r.orderId, r.productId, keepSeconds],
        ),
      );
    },

    async complete(r: AdmissionRequest, completion: Completion): Promise<void> {
      const keys = buyerKeys(r.userId);
      const answer = "answer" in completion ? completion.answer : { status: 0, contentType: "", body: "" };
      await redis.run(
        scripts.complete,
        [keys.idempotency(r.idempotencyKey), keys.allowance(r.productId), keys.orders],
        [
          r.token,
          completion.outcome,
          r.orderId,
          keepSeconds,
          answer.status,
          answer.contentType,
          answer.body,
          "region" in completion ? completion.region : "",
          r.productId,
          "restoreSent" in completion ? (completion.restoreSent ?? "") : "",
        ],
      );
    },

    /** The order ended unsold (cancelled): its units count against the limit no more. */
    async releaseAllowance(userId: string, productId: string, orderId: string): Promise<void> {
      await redis.hdel(buyerKeys(userId).allowance(productId), orderId);
    },

    /** Where one of the buyer's orders is served, if the home region still knows. */
    async servedAt(userId: string, orderId: string): Promise<{ region: string; productId: string } | undefined> {
      const value = await redis.hget(buyerKeys(userId).orders, orderId);
      if (!value) return undefined;
      const [region, productId] = value.split(" ") as [string, string];
      return { region, productId };
    },
  };
}

export type AdmissionStore = ReturnType<typeof admissionStore>;
