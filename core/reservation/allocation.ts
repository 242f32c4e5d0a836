/**
 * The admin's room: a region's allocation of a product, changed once per change id
 * (allocate.lua). A product split into buckets (buckets.ts) takes each change in parts, one
 * per bucket, spread over them or gathered from them.
 */
import type { ProblemCode } from "../../shared/problems.ts";
import { bucketId } from "../../shared/keys.ts";
import { bucketChangeId, bucketsFrom, spreadUnits } from "./buckets.ts";
import type { RegionReads } from "./reads.ts";
import { allocateReply } from "./replies.ts";
import type { Outcome, Stock } from "./types.ts";

/** A blocked change's answers (allocate.lua): refused now or before, or no such product here. */
const BLOCKED = new Set<ProblemCode>(["insufficient_available", "unknown_product"]);

/** One bucket's change as allocate.lua takes it (its header says what each mode does). */
interface BucketChange {
  changeId: string;
  units: number;
  mode: "exact" | "up-to" | "block";
  /** ms on Redis's clock; 0 for none. */
  notAfter?: number;
}

export class RegionAllocation {
  constructor(private readonly store: RegionReads) {}

  /**
   * Adds `units` to this region's allocation (negative: gives available units back), once per
   * `changeId`; repeating a change answers as before, with `replayed` set. A change not applied
   * yet does nothing past `notAfter` (ms, Redis's clock; 0 for none): `request_expired`.
   */
  async allocate(
    productId: string,
    changeId: string,
    units: number,
    notAfter = 0,
  ): Promise<Outcome<Stock & { replayed: boolean }>> {
    const buckets = await this.store.bucketsOf(productId);
    if (buckets === 1) {
      const outcome = await this.allocateIn(productId, { changeId, units, mode: "exact", notAfter });
      if (!outcome.ok) return outcome;
      const { moved: _, ...stock } = outcome.value;
      return { ok: true, value: stock };
    }
    // Split: the change's outcome is kept under its own id in bucket 0, each bucket's part under
    // `<change>#<bucket>`, so a retry after a crash anywhere finishes the same change.
    const decided = await this.change(productId, changeId);
    if (decided === "refused") return { ok: false, code: "insufficient_available" };
    if (decided === undefined) {
      const moved =
        units > 0
          ? await this.spreadOver(productId, changeId, units, notAfter)
          : await this.gatherFrom(productId, changeId, -units, notAfter);
      if (moved !== true) return moved;
      await this.remember(productId, changeId, units);
    }
    const stock = await this.store.stock(productId);
    return stock
      ? { ok: true, value: { ...stock, replayed: decided !== undefined } }
      : { ok: false, code: "unknown_product" };
  }

  /**
   * Makes sure the release `changeId` of `-units` never applies from now on, unless it applied
   * already: the admin calls this before it marks a move abandoned, since another driver may
   * still hold the move as pending. The units it moved, or `refused`.
   */
  async block(productId: string, changeId: string, units: number, notAfter = 0): Promise<Outcome<number | "refused">> {
    const decision = (outcome: Outcome<{ moved: number }>): Outcome<number | "refused"> => {
      if (outcome.ok) return { ok: true, value: outcome.value.moved };
      return BLOCKED.has(outcome.code) ? { ok: true, value: "refused" } : outcome;
    };
    const buckets = await this.store.bucketsOf(productId);
    if (buckets === 1) return decision(await this.allocateIn(productId, { changeId, units, mode: "block" }));
    const decided = await this.change(productId, changeId);
    if (decided !== undefined) return { ok: true, value: decided };
    // Every part is settled for good once blocked: applied by a driver before, or never.
    const parts = await Promise.all(
      Array.from({ length: buckets }, async (_, bucket) =>
        decision(
          await this.allocateIn(bucketId(productId, bucket), {
            changeId: bucketChangeId(changeId, bucket),
            units,
            mode: "block",
          }),
        ),
      ),
    );
    const moved = parts.map((p) => (p.ok && p.value !== "refused" ? p.value : 0));
    const failure = parts.find((p) => !p.ok);
    if (failure) return failure;
    // A driver gathered every unit: the release happened. Else it never will, and the parts
    // taken go back (under the ids a driver's own roll-back uses, so they go back once).
    if (moved.reduce((a, b) => a + b, 0) === units) {
      await this.remember(productId, changeId, units);
      return { ok: true, value: units };
    }
    for (const [bucket, part] of moved.entries()) {
      if (part === 0) continue;
      const back = await this.allocateIn(bucketId(productId, bucket), {
        changeId: bucketChangeId(changeId, bucket, { undo: true }),
        units: -part,
        mode: "exact",
        notAfter,
      });
      if (!back.ok) return back;
    }
    await this.remember(productId, changeId, "refused");
    return { ok: true, value: "refused" };
  }

  /** Units an allocation change moved here, `refused`, or undefined if it never reached Redis. */
  async change(productId: string, changeId: string): Promise<number | "refused" | undefined> {
    const value = await this.store.redis.hget(this.store.keys(productId).allocationChanges, changeId);
    return value === null ? undefined : value === "refused" ? "refused" : Number(value);
  }

  /** New units, as evenly as whole units go over the buckets. */
  private async spreadOver(
    productId: string,
    changeId: string,
    units: number,
    notAfter: number,
  ): Promise<true | Outcome<never>> {
    const parts = spreadUnits(units, await this.store.bucketsOf(productId));
    for (const [bucket, part] of parts.entries()) {
      if (part === 0) continue;
      const outcome = await this.allocateIn(bucketId(productId, bucket), {
        changeId: bucketChangeId(changeId, bucket),
        units: part,
        mode: "exact",
        notAfter,
      });
      if (!outcome.ok) return outcome;
    }
    return true;
  }

  /**
   * Units given back, taken from the buckets in turn (from the one the change's id picks) as far
   * as each has them available. Short of `units` in all, or at a part the admin blocked: each
   * bucket gets back what it gave, and the change is refused, as one bucket refuses a release
   * larger than it holds.
   */
  private async gatherFrom(
    productId: string,
    changeId: string,
    units: number,
    notAfter: number,
  ): Promise<true | Outcome<never>> {
    let wanted = units;
    const given: [bucket: number, units: number][] = [];
    for (const bucket of bucketsFrom(changeId, await this.store.bucketsOf(productId))) {
      if (wanted === 0) break;
      const outcome = await this.allocateIn(bucketId(productId, bucket), {
        changeId: bucketChangeId(changeId, bucket),
        units: -wanted,
        mode: "up-to",
        notAfter,
      });
      if (!outcome.ok && outcome.code === "insufficient_available") break;
      if (!outcome.ok) return outcome;
      wanted += outcome.value.moved;
      if (outcome.value.moved < 0) given.push([bucket, -outcome.value.moved]);
    }
    if (wanted === 0) return true;
    for (const [bucket, back] of given) {
      const outcome = await this.allocateIn(bucketId(productId, bucket), {
        changeId: bucketChangeId(changeId, bucket, { undo: true }),
        units: back,
        mode: "exact",
        notAfter,
      });
      if (!outcome.ok) return outcome;
    }
    await this.remember(productId, changeId, "refused");
    return { ok: false, code: "insufficient_available" };
  }

  /** A split product's allocation change decided: its units, or `refused`, beside its parts in bucket 0. */
  private async remember(productId: string, changeId: string, outcome: number | "refused"): Promise<void> {
    const k = this.store.keys(productId);
    await this.store.redis
      .pipeline()
      .hset(k.allocationChanges, changeId, outcome)
      .zadd(k.allocationChangeTimes, Date.now(), changeId)
      .exec();
  }

  /** One bucket's allocation change (allocate.lua). */
  private async allocateIn(
    productId: string,
    { changeId, units, mode, notAfter = 0 }: BucketChange,
  ): Promise<Outcome<Stock & { replayed: boolean; moved: number }>> {
    const k = this.store.keys(productId);
    return allocateReply(
      await this.store.scripts.allocate(
        [k.product, k.allocationChanges, k.allocationChangeTimes],
        [changeId, units, mode, notAfter],
      ),
    );
  }
}
