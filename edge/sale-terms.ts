/**
 * A product's sale terms (window, pause flag, per-user limit, room) as the cores know them,
 * cached: the edge needs the per-user limit before it asks any core, and one lookup per product
 * every few seconds costs nothing next to the orders. A limit an admin changes reaches the edges
 * within TERMS_TTL_MS (and a refresh); each core keeps checking its own region's count meanwhile.
 *
 * A region that does not answer must cost nobody else anything: every region is asked at once
 * and the first that knows the product answers; the last good terms are served while a refresh
 * runs; and one lookup per product is in flight at a time, shared by everyone waiting on it.
 */
import type { Region } from "../shared/config.ts";
import type { ProductAnswer } from "../core/http/client.ts";

export const TERMS_TTL_MS = 5_000;
/** How long "on sale in no region" is remembered (docs/security.md). */
export const UNKNOWN_TTL_MS = 5_000;
/** Past this age the last good terms are no longer served while a refresh runs: it is waited for. */
export const STALE_LIMIT_MS = 60_000;
/** Products remembered at most: made-up product ids cannot grow an edge without bound. */
export const MAX_PRODUCTS = 10_000;

/** What a core tells of a sale: the edge counts each buyer's units against `perUserLimit`. */
export type SaleTerms = Extract<ProductAnswer, { status: 200 }>["body"];

/** `undefined`: on sale in no region; `unavailable`: no region that may sell it answered. */
export type TermsLookup = SaleTerms | undefined | "unavailable";

type Ask = (region: Region, productId: string) => Promise<ProductAnswer>;

/** All regions asked together: the first that sells the product answers for it. */
export function firstTerms(answers: Promise<ProductAnswer>[]): Promise<TermsLookup> {
  return new Promise((resolve) => {
    let pending = answers.length;
    let unanswered = false;
    for (const answer of answers) {
      void answer.then((a) => {
        if (a.kind === "answer" && a.status === 200) return resolve(a.body);
        if (a.kind !== "answer" || a.body.code !== "unknown_product") unanswered = true;
        if (--pending === 0) resolve(unanswered ? "unavailable" : undefined);
      });
    }
    if (pending === 0) resolve(undefined);
  });
}

export function saleTermsCache(
  ask: Ask,
  regions: Region[],
  {
    ttlMs = TERMS_TTL_MS,
    unknownTtlMs = UNKNOWN_TTL_MS,
    staleLimitMs = STALE_LIMIT_MS,
    maxProducts = MAX_PRODUCTS,
  } = {},
) {
  /** In order of last use (a Map keeps insertion order): the oldest goes first past maxProducts. */
  const known = new Map<string, { at: number; terms: SaleTerms | undefined }>();
  const inFlight = new Map<string, Promise<TermsLookup>>();

  const remember = (productId: string, terms: SaleTerms | undefined) => {
    known.delete(productId);
    known.set(productId, { at: Date.now(), terms });
    if (known.size > maxProducts) known.delete(known.keys().next().value!);
  };

  const refresh = (productId: string): Promise<TermsLookup> => {
    let lookup = inFlight.get(productId);
    if (!lookup) {
      lookup = firstTerms(regions.map((r) => ask(r, productId))).then((terms) => {
        inFlight.delete(productId);
        // A failed lookup is not kept: the last good terms, if any, stand.
        if (terms !== "unavailable") remember(productId, terms);
        return terms;
      });
      inFlight.set(productId, lookup);
    }
    return lookup;
  };

  /** What is known of a product without asking anyone: `undefined` when nothing (or too old). */
  const peek = (productId: string): { terms: SaleTerms | undefined; fresh: boolean } | undefined => {
    const hit = known.get(productId);
    if (!hit) return undefined;
    const age = Date.now() - hit.at;
    if (hit.terms === undefined) {
      if (age < unknownTtlMs) return { terms: undefined, fresh: true };
      known.delete(productId);
      return undefined;
    }
    if (age < staleLimitMs) return { terms: hit.terms, fresh: age < ttlMs };
    return undefined;
  };

  return {
    peek,
    get(productId: string): Promise<TermsLookup> {
      const hit = peek(productId);
      if (!hit) return refresh(productId);
      // Last used goes last: a flood of made-up ids pushes out the products nobody orders.
      const entry = known.get(productId)!;
      known.delete(productId);
      known.set(productId, entry);
      if (!hit.fresh) void refresh(productId);
      return Promise.resolve(hit.terms);
    },
  };
}

export type SaleTermsCache = ReturnType<typeof saleTermsCache>;
