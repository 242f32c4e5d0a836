/**
 * A queue ticket: a signed, short-lived claim to one order intent (who, what, how many, under
 * which Idempotency-Key) and to its place in one region's room. It names its buyer's home region
 * too: the ticket's routes act for the buyer without an identity to resolve it from again. Any edge checks it without a
 * lookup; the place itself lives in that region's Redis. A JWT (jose, HS256), with an audience
 * of its own so that no other token of the deployment passes for one.
 */
import { createHmac } from "node:crypto";
import { jwtVerify, SignJWT } from "jose";

export interface Ticket {
  /** The ticket's id: the order id the intent derives (edge/order-id.ts), so a retry keeps its place. */
  id: string;
  userId: string;
  /** Where the buyer's admission, allowance and rate limits live, as their identity said when queued. */
  homeRegion: string;
  productId: string;
  quantity: number;
  idempotencyKey: string;
  region: string;
}

const AUDIENCE = "flux-gate:room";
export const TICKET_TTL_SECONDS = 3_600;

/** The key tickets are signed with, derived from the order-id key: one secret less to keep. */
export function ticketKey(orderIdSecret: string): Uint8Array {
  return createHmac("sha256", orderIdSecret).update("flux-gate room tickets").digest();
}

export function issueTicket(key: Uint8Array, t: Ticket, now = Date.now()): Promise<string> {
  return new SignJWT({ pid: t.productId, qty: t.quantity, key: t.idempotencyKey, rg: t.region, hr: t.homeRegion })
    .setProtectedHeader({ alg: "HS256" })
    .setSubject(t.userId)
    .setJti(t.id)
    .setAudience(AUDIENCE)
    .setIssuedAt(Math.floor(now / 1000))
    .setExpirationTime(Math.floor(now / 1000) + TICKET_TTL_SECONDS)
    .sign(key);
}

/** The ticket, or undefined when it is forged, expired or not a ticket. */
export async function readTicket(key: Uint8Array, token: string): Promise<Ticket | undefined> {
  try {
    const { payload: p } = await jwtVerify(token, key, { algorithms: ["HS256"], audience: AUDIENCE });
    if (
      typeof p.sub !== "string" ||
      typeof p.jti !== "string" ||
      typeof p.pid !== "string" ||
      typeof p.qty !== "number" ||
      typeof p.key !== "string" ||
      typeof p.rg !== "string" ||
      typeof p.hr !== "string"
    )
      return undefined;
    return {
      id: p.jti,
      userId: p.sub,
      homeRegion: p.hr,
      productId: p.pid,
      quantity: p.qty,
      idempotencyKey: p.key,
      region: p.rg,
    };
  } catch {
    return undefined;
  }
}
