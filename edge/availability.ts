/**
 * A product's availability per region (GET /v1/products/{id}), each region's row kept a moment
 * and looked up on its own: a crowd polling one product costs each core one lookup per moment,
 * and a region that does not answer within AVAILABILITY_DEADLINE_MS shows as unknown in its own
 * row instead of holding everyone's answer back. A region found silent stays unknown for its
 * row's moment, asked again in the background, so only the first request to meet it waits.
 */
import type { Region } from "../shared/config.ts";
import type { ProductAnswer } from "../core/http/client.ts";
import { UNKNOWN_TTL_MS, type SaleTerms } from "./sale-terms.ts";

/** How long a region's row is kept (a product not on sale there: UNKNOWN_TTL_MS). */
export const AVAILABILITY_TTL_MS = 1_000;
/** How long the answer waits for a region before showing it as unknown. */
export const AVAILABILITY_DEADLINE_MS = 250;
/** (product, region) rows remembered at most. */
const MAX_ROWS = 20_000;

/** One region's word on a product: its sale, not on sale there, or no answer (yet). */
export type RegionRow = { kind: "sale"; sale: SaleTerms } | { kind: "absent" } | { kind: "unknown" };

type Ask = (region: Region, productId: string) => Promise<ProductAnswer>;

const rowOf = (answer: ProductAnswer): RegionRow => {
  if (answer.kind === "answer" && answer.status === 200) return { kind: "sale", sale: answer.body };
  if (answer.kind === "answer" && answer.status === 404 && answer.body.code === "unknown_product")
    return { kind: "absent" };
  return { kind: "unknown" };
};

export function availabilityCache(
  ask: Ask,
  { ttlMs = AVAILABILITY_TTL_MS, absentTtlMs = UNKNOWN_TTL_MS, deadlineMs = AVAILABILITY_DEADLINE_MS } = {},
) {
  const rows = new Map<string, { at: number; row: RegionRow }>();
  const inFlight = new Map<string, { since: number; row: Promise<RegionRow> }>();

  const lookUp = (region: Region, productId: string, key: string) => {
    let pending = inFlight.get(key);
    if (!pending) {
      const row = ask(region, productId).then(rowOf, (): RegionRow => ({ kind: "unknown" }));
      pending = { since: Date.now(), row };
      inFlight.set(key, pending);
      void row.then((r) => {
        inFlight.delete(key);
        rows.delete(key);
        rows.set(key, { at: Date.now(), row: r });
        if (rows.size > MAX_ROWS) rows.delete(rows.keys().next().value!);
      });
    }
    return pending;
  };

  /** One region's row: cached, or asked, waited for until the deadline of the lookup in flight. */
  const rowIn = async (region: Region, productId: string): Promise<RegionRow> => {
    const key = `${region.id} ${productId}`;
    const hit = rows.get(key);
    if (hit && Date.now() - hit.at < (hit.row.kind === "absent" ? absentTtlMs : ttlMs)) {
      if (hit.row.kind === "unknown") void lookUp(region, productId, key);
      return hit.row;
    }
    const { since, row } = lookUp(region, productId, key);
    const left = since + deadlineMs - Date.now();
    if (left <= 0) return { kind: "unknown" };
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<RegionRow>((resolve) => {
      timer = setTimeout(() => resolve({ kind: "unknown" }), left);
    });
    return Promise.race([row, late]).finally(() => clearTimeout(timer));
  };

  return {
    /** Every region's row, in the regions' order, within the deadline. */
    rows: (regions: Region[], productId: string) => Promise.all(regions.map((r) => rowIn(r, productId))),
  };
}

export type AvailabilityCache = ReturnType<typeof availabilityCache>;
