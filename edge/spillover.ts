/**
 * Spillover: an admitted order asks its candidate regions in turn until one answers for good.
 * A region that has no units (left) passes the order on; any other answer, or none, ends it.
 */
import type { CoreAnswer } from "../core/http/client.ts";
import type { Region } from "../shared/config.ts";
import { problem } from "../shared/problems.ts";
import { MAX_SKEW_MS } from "../shared/signing.ts";
import type { Admission, AdmissionRequest, AdmissionStore } from "./admission/admission.ts";
import { refusesTheEdge } from "./answers.ts";
import { SPILLOVER_CODES } from "./regions.ts";
import type { Reserver } from "./reservations.ts";

/**
 * After a region was asked and did not answer, a copy of that request may still reach it until
 * its signature goes stale (MAX_SKEW_MS, and a margin for clock drift between edge and core).
 * Until then a refusal from it is not final: another region must not reserve the same order.
 */
export const UNCERTAIN_WINDOW_MS = MAX_SKEW_MS + 5_000;

/** How asking the regions ended. */
export type Attempt =
  | { kind: "served" | "refused"; answer: Extract<CoreAnswer, { kind: "answer" }> }
  /** No answer, a 5xx, or a refused signature: the region may hold the order (or did nothing). */
  | { kind: "unsettled"; answer: CoreAnswer }
  /** A refusal from the region that may still receive an earlier try of this order. */
  | { kind: "uncertain"; restoreSent: number }
  /** Another request took the key over (this one ran past its lease). */
  | { kind: "lost" };

export interface SpilloverOrder {
  request: AdmissionRequest;
  admission: Extract<Admission, { kind: "new" | "resume" }>;
  /** The buyer's home region, whose admission store holds the order's key. */
  homeRegion: string;
  requestId: string;
}

/** Asks `candidates` in turn; the first definitive answer ends it. */
export async function reserveInTurn(
  { reserveAt, store }: { reserveAt: Reserver; store: AdmissionStore },
  { request, admission, homeRegion, requestId }: SpilloverOrder,
  candidates: Region[],
): Promise<Attempt> {
  // The buyer's origin is where the first try began, whichever region a retry prefers.
  const originRegion = (admission.kind === "resume" && admission.tried[0]) || candidates[0]!.id;
  const reservation = {
    orderId: request.orderId,
    userId: request.userId,
    productId: request.productId,
    quantity: request.quantity,
    originRegion,
    // The order carries its buyer's home: the allowance goes back there when it ends unsold.
    homeRegion,
  };
  let refusal: Attempt | undefined;
  for (const [i, region] of candidates.entries()) {
    // The admission named its first region already; every other region is named first.
    const named =
      admission.kind === "new" && region.id === request.firstRegion
        ? admission.now
        : await store.tryRegion(request, region.id).catch(() => undefined);
    if (named === undefined) return { kind: "unsettled", answer: { kind: "timeout" } };
    if (named === 0) return { kind: "lost" };
    // The core reserves nothing past this (Redis's clock), however late the request runs there.
    const answer = await reserveAt(region, { ...reservation, notAfter: named + MAX_SKEW_MS }, requestId);
    if (answer.kind !== "answer" || answer.status >= 500 || refusesTheEdge(answer))
      return { kind: "unsettled", answer };
    if (answer.status === 202) return { kind: "served", answer };
    // Answered, so this try will not reserve later; an earlier one may, until its deadline.
    if (
      admission.kind === "resume" &&
      i === 0 &&
      region.id === admission.tried.at(-1) &&
      admission.now - admission.sent < UNCERTAIN_WINDOW_MS
    )
      return { kind: "uncertain", restoreSent: admission.sent };
    refusal = { kind: "refused", answer };
    if (!SPILLOVER_CODES.has(String(answer.body.code))) break;
  }
  return (
    refusal ?? {
      kind: "refused",
      answer: { kind: "answer", status: 409, body: problem("sold_out", "no region has units left") },
    }
  );
}
