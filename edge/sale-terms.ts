/**
 * A product's sale terms (window, pause flag, per-user limit) as the cores know them, cached for
 * a few seconds: the edge needs the per-user limit before it asks any core, and one lookup per
 * product every few seconds costs nothing next to the orders. A limit an admin changes reaches
 * the edges within TERMS_TTL_MS; each core keeps checking its own region's count meanwhile.
 */
import type { Region } from "../shared/config.ts";
import type { ProductAnswer } from "../core/http/client.ts";

export const TERMS_TTL_MS = 5_000;

/** What a core tells of a sale: the edge counts each buyer's units against `perUserLimit`. */
export type SaleTerms = Extract<ProductAnswer, { status: 200 }>["body"];

/** `undefined`: on sale in no region; `unavailable`: no region answered. */
export type TermsLookup = SaleTerms | undefined | "unavailable";

type Ask = (region: Region, productId: string) => Promise<ProductAnswer>;

/** The first region that knows the product answers; unknown everywhere is cached too. */
export function saleTermsCache(ask: Ask, ttlMs = TERMS_TTL_MS) {
  const cache = new Map<string, { until: number; terms: Promise<TermsLookup> }>();

  async function lookUp(productId: string, regions: Region[]): Promise<TermsLookup> {
    let unanswered = false;
    for (const region of regions) {
      const answer = await ask(region, productId);
      if (answer.kind === "answer" && answer.status === 200) return answer.body;
      if (answer.kind !== "answer" || answer.body.code !== "unknown_product") unanswered = true;
    }
    return unanswered ? "unavailable" : undefined;
  }

  return {
    get(productId: string, regions: Region[]): Promise<TermsLookup> {
      const now = Date.now();
      const hit = cache.get(productId);
      if (hit && hit.until > now) return hit.terms;
      // Concurrent misses share one lookup; a failed one is not kept.
      const terms = lookUp(productId, regions);
      cache.set(productId, { until: now + ttlMs, terms });
      void terms.then((t) => t === "unavailable" && cache.delete(productId));
      return terms;
    },
  };
}
