/**
 * The retention sweep's room (core/retention/retention.ts): what has stayed in the region's Redis
 * long enough to leave it — ended orders (forget.lua leaves a tombstone of each) and allocation
 * change ids the transfer ledger has settled.
 */
import type { RegionRedis } from "./region-redis.ts";
import { forgetReply } from "./replies.ts";
import { productScriptKeys, scriptTail } from "./script-keys.ts";
import type { StoredOrder } from "./types.ts";

export class RetentionStore {
  constructor(private readonly store: RegionRedis) {}

  /** Ended orders (confirmed, cancelled, expired) that ended before `cutoff` (ms), at most `limit`. */
  endedBefore(productId: string, cutoff: number, limit: number): Promise<string[]> {
    return this.store.redis.zrangebyscore(this.store.keys(productId).ended, "-inf", cutoff, "LIMIT", 0, limit);
  }

  /**
   * The region's products with orders that ended, or allocation changes that came, before
   * `cutoff` (ms): at most `limit` of each per product, in one round trip for all products.
   */
  async retained(
    cutoff: number,
    limit: number,
  ): Promise<{ productId: string; ended: string[]; changeIds: string[] }[]> {
    const products = await this.store.buckets();
    const found = await this.store.perProduct(products, (pipeline, productId) => {
      const k = this.store.keys(productId);
      pipeline
        .zrangebyscore(k.ended, "-inf", cutoff, "LIMIT", 0, limit)
        .zrangebyscore(k.allocationChangeTimes, "-inf", cutoff, "LIMIT", 0, limit);
    });
    return products
      .map((productId, i) => ({ productId, ended: found[i]![0] as string[], changeIds: found[i]![1] as string[] }))
      .filter((p) => p.ended.length > 0 || p.changeIds.length > 0);
  }

  /**
   * Removes ended orders whose status PostgreSQL holds, leaving a tombstone of each (its
   * outcome, for IDEMPOTENCY_WINDOW_MS at least); returns the ids forgotten.
   */
  async forget(productId: string, stored: StoredOrder[]): Promise<string[]> {
    if (stored.length === 0) return [];
    const { region } = this.store;
    return forgetReply(
      await this.store.scripts.forget(productScriptKeys(region, productId), [
        ...stored.flatMap((o) => [o.orderId, o.status]),
        ...scriptTail(region, productId),
      ]),
    );
  }

  /** Forgets allocation change ids the transfer ledger has settled: no driver retries them. */
  async forgetChanges(productId: string, changeIds: string[]): Promise<void> {
    if (changeIds.length === 0) return;
    const k = this.store.keys(productId);
    await this.store.redis
      .pipeline()
      .hdel(k.allocationChanges, ...changeIds)
      .zrem(k.allocationChangeTimes, ...changeIds)
      .exec();
  }
}
