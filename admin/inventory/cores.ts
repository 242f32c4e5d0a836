/**
 * The admin's calls to the regional cores. The admin never touches a region's Redis itself:
 * each core changes its own, so a region's live counters have one writer.
 */
import type { Region } from "../../shared/config.ts";
import type { ProblemCode } from "../../shared/problems.ts";
import { MAX_SKEW_MS } from "../../shared/signing.ts";
import type { Result } from "../../shared/result.ts";
import { coreClient, reach, type CoreAnswer, type CoreClient } from "../../core/http/client.ts";
import { stockOf } from "../../core/reservation/stock.ts";
import type { Stock } from "../../core/reservation/types.ts";

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

export interface Cores {
  /** Loads or refreshes the product's rules in the region (from PostgreSQL). */
  activate(region: string, productId: string): Promise<Stock>;
  /** Applies one allocation change, once per change id. */
  allocate(region: string, productId: string, changeId: string, units: number): Promise<Result<Stock>>;
  /**
   * Makes sure the release `changeId` of `units` never applies in the region from now on: the
   * units it released before the block came, or `refused`.
   */
  block(region: string, productId: string, changeId: string, units: number): Promise<number | "refused">;
  /** The region's live counters, or undefined when the product is not active there. */
  stock(region: string, productId: string): Promise<Stock | undefined>;
}

const TIMEOUT_MS = 3_000;

/**
 * The deadline a change carries, on the admin's clock (which signatures already keep within
 * MAX_SKEW_MS of the cores'). A call that waits in a stalled core longer than this applies
 * nothing, so it can never outlive its change id's retention (15 min) and apply twice.
 */
const changeDeadline = () => Date.now() + TIMEOUT_MS + MAX_SKEW_MS;

const stockIn = (body: Stock): Stock => stockOf([body.allocated, body.available, body.held, body.sold]);

export function regionCores(regions: Region[]): Cores {
  const clients = new Map(
    regions.map((r) => [r.id, coreClient(r, { timeoutMs: TIMEOUT_MS, secret: r.coreAdminSecret })]),
  );
  /** The core's answer; no answer at all is the region being unavailable. */
  async function call<A extends CoreAnswer>(regionId: string, request: (core: CoreClient) => Promise<A>) {
    const core = clients.get(regionId);
    if (!core) throw new RegionUnavailable(regionId, "no such region is configured");
    const answer = await request(core);
    if (answer.kind === "timeout") throw new RegionUnavailable(regionId, `no answer within ${TIMEOUT_MS} ms`);
    if (answer.kind === "unreachable") throw new RegionUnavailable(regionId, answer.error);
    return answer as Extract<A, { kind: "answer" }>;
  }
  const unexpected = (regionId: string, answer: Extract<CoreAnswer, { kind: "answer" }>) =>
    new RegionUnavailable(regionId, `answered ${answer.status} ${String(answer.body.code ?? "")}`.trim());
  const allocation = (core: CoreClient, id: string, changeId: string, units: number) =>
    reach(() =>
      core.admin.v1.products[":id"].allocation.$post({
        param: { id },
        json: { changeId, units, notAfter: changeDeadline() },
      }),
    );

  return {
    async activate(regionId, id) {
      const answer = await call(regionId, (core) =>
        reach(() => core.admin.v1.products[":id"].activate.$post({ param: { id } })),
      );
      if (answer.status !== 200) throw unexpected(regionId, answer);
      return stockIn(answer.body);
    },

    async allocate(regionId, productId, changeId, units) {
      let answer = await call(regionId, (core) => allocation(core, productId, changeId, units));
      if (answer.status === 404 && answer.body.code === "unknown_product" && units > 0) {
        // The region has not seen the product yet: load its rules, then give it the units.
        await this.activate(regionId, productId);
        answer = await call(regionId, (core) => allocation(core, productId, changeId, units));
      }
      if (answer.status === 200) return { ok: true, value: stockIn(answer.body) };
      if (answer.status === 409 || answer.status === 404) return { ok: false, code: answer.body.code as ProblemCode };
      throw unexpected(regionId, answer);
    },

    async block(regionId, productId, changeId, units) {
      const answer = await call(regionId, (core) =>
        reach(() =>
          core.admin.v1.products[":id"].allocation.block.$post({
            param: { id: productId },
            json: { changeId, units: -units, notAfter: changeDeadline() },
          }),
        ),
      );
      if (answer.status !== 200) throw unexpected(regionId, answer);
      return answer.body.outcome === "refused" ? "refused" : -answer.body.units;
    },

    async stock(regionId, id) {
      const answer = await call(regionId, (core) => reach(() => core.admin.v1.products[":id"].$get({ param: { id } })));
      if (answer.status === 404) return undefined;
      if (answer.status !== 200) throw unexpected(regionId, answer);
      return stockIn(answer.body);
    },
  };
}
