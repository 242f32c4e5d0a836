/**
 * The admin's calls to the regional cores. The admin never touches a region's Redis itself:
 * each core changes its own, so a region's live counters have one writer.
 */
import type { Region } from "../../shared/config.ts";
import { callCore } from "../../shared/core-client.ts";
import type { ProblemCode } from "../../shared/problems.ts";
import { stockOf, type Stock } from "../../core/reservation/store.ts";

/** A core that did not answer, or answered with a failure that is not a refusal. */
export class RegionUnavailable extends Error {
  override name = "RegionUnavailable";
  constructor(
    readonly region: string,
    why: string,
  ) {
    super(`${region}'s core: ${why}`);
  }
}

export type AllocationOutcome = { ok: true; stock: Stock } | { ok: false; code: ProblemCode };

export interface Cores {
  /** Loads or refreshes the product's rules in the region (from PostgreSQL). */
  activate(region: string, productId: string): Promise<Stock>;
  /** Applies one allocation change, once per change id. */
  allocate(region: string, productId: string, changeId: string, units: number): Promise<AllocationOutcome>;
  /** The region's live counters, or undefined when the product is not active there. */
  stock(region: string, productId: string): Promise<Stock | undefined>;
}

const TIMEOUT_MS = 3_000;

const stockIn = (body: Record<string, unknown>): Stock =>
  stockOf([body.allocated, body.available, body.held, body.sold]);

export function regionCores(regions: Region[]): Cores {
  const byId = new Map(regions.map((r) => [r.id, r]));
  async function call(regionId: string, method: string, path: string, body?: unknown) {
    const region = byId.get(regionId);
    if (!region) throw new RegionUnavailable(regionId, "no such region is configured");
    const answer = await callCore(region, method, path, body, TIMEOUT_MS, { secret: region.coreAdminSecret });
    if (answer.kind === "timeout") throw new RegionUnavailable(regionId, `no answer within ${TIMEOUT_MS} ms`);
    if (answer.kind === "unreachable") throw new RegionUnavailable(regionId, answer.error);
    return answer;
  }
  const unexpected = (regionId: string, answer: { status: number; body: Record<string, unknown> }) =>
    new RegionUnavailable(regionId, `answered ${answer.status} ${String(answer.body.code ?? "")}`.trim());

  return {
    async activate(regionId, productId) {
      const answer = await call(regionId, "POST", `/admin/v1/products/${productId}/activate`);
      if (answer.status !== 200) throw unexpected(regionId, answer);
      return stockIn(answer.body);
    },

    async allocate(regionId, productId, changeId, units) {
      const path = `/admin/v1/products/${productId}/allocation`;
      let answer = await call(regionId, "POST", path, { changeId, units });
      if (answer.body.code === "unknown_product" && units > 0) {
        // The region has not seen the product yet: load its rules, then give it the units.
        await this.activate(regionId, productId);
        answer = await call(regionId, "POST", path, { changeId, units });
      }
      if (answer.status === 200) return { ok: true, stock: stockIn(answer.body) };
      if (answer.status === 409 || answer.status === 404) return { ok: false, code: answer.body.code as ProblemCode };
      throw unexpected(regionId, answer);
    },

    async stock(regionId, productId) {
      const answer = await call(regionId, "GET", `/admin/v1/products/${productId}`);
      if (answer.status === 404) return undefined;
      if (answer.status !== 200) throw unexpected(regionId, answer);
      return stockIn(answer.body);
    },
  };
}
