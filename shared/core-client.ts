/**
 * Calls to a regional core, from the edge and the admin API: signed, with a deadline. A timeout
 * is reported as such and never confused with an answer: the core may have acted before it
 * went quiet.
 */
import type { Region } from "./config.ts";
import { signRequest } from "./signing.ts";

/** What a core tells of a sale (`GET /v1/products/:id`): the edge counts each buyer's units against `perUserLimit`. */
export interface SaleTerms {
  startsAt: string;
  endsAt: string;
  paused: boolean;
  perUserLimit: number;
  maxPerOrder: number;
}

/**
 * A core's path for an order: `productId`, when the caller knows it, lets the core find a live
 * order in Redis; without it the core looks the order up in PostgreSQL.
 */
export function coreOrderPath(
  orderId: string,
  { productId, action }: { productId?: string; action?: "confirm" | "cancel" } = {},
): string {
  return `/v1/orders/${encodeURIComponent(orderId)}${action ? `/${action}` : ""}${productId ? `?productId=${encodeURIComponent(productId)}` : ""}`;
}

export type CoreAnswer =
  | { kind: "answer"; status: number; body: Record<string, unknown> }
  | { kind: "timeout" }
  | { kind: "unreachable"; error: string };

/**
 * `requestId` travels as X-Request-Id, so the core's log lines carry the caller's id. The
 * edge signs with the region's core secret; the admin API passes the admin secret.
 */
export async function callCore(
  region: Region,
  method: string,
  path: string,
  body: unknown,
  timeoutMs: number,
  { requestId, secret = region.coreSecret }: { requestId?: string; secret?: string } = {},
): Promise<CoreAnswer> {
  const text = body === undefined ? "" : JSON.stringify(body);
  try {
    const response = await fetch(region.coreUrl + path, {
      method,
      headers: {
        "Content-Type": "application/json",
        ...signRequest(secret, method, path, text),
        ...(requestId ? { "X-Request-Id": requestId } : {}),
      },
      body: text || undefined,
      signal: AbortSignal.timeout(timeoutMs),
    });
    return { kind: "answer", status: response.status, body: (await response.json()) as Record<string, unknown> };
  } catch (error) {
    if (error instanceof DOMException && (error.name === "TimeoutError" || error.name === "AbortError"))
      return { kind: "timeout" };
    return { kind: "unreachable", error: String(error) };
  }
}
