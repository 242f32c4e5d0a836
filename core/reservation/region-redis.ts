/**
 * A region's Redis as every room of its store (store.ts) addresses it: the connections, the
 * scripts bound to them, each product's keys, and which products and buckets the region has.
 * The rooms share one of these, so a product's bucket count is read once per core, not per room.
 */
import { productKeys, regionProductsKey } from "../../shared/keys.ts";
import type { RespSend } from "../../shared/lua.ts";
import type { RedisConnection } from "../../shared/redis.ts";
import { bucketIds } from "./buckets.ts";
import { respScripts, type Scripts, scriptsFor } from "./scripts.ts";

export class RegionRedis {
  readonly scripts: Scripts;
  /** The reservation path's client (Bun's own) where there is one, else ioredis. */
  readonly command: RespSend;
  /** Product → its buckets here (countOf). */
  private readonly bucketCounts = new Map<string, number>();

  /**
   * `redis` serves every read; `requestPath`, when given, runs the scripts and the writes of
   * the reservation path instead (the core passes Bun's own client: docs/benchmarks.md).
   */
  constructor(
    readonly redis: RedisConnection,
    readonly region: string,
    requestPath?: RespSend,
  ) {
    this.scripts = requestPath ? respScripts(requestPath) : scriptsFor(redis);
    this.command = requestPath ?? (([name, ...args]) => redis.call(String(name), ...args));
  }

  keys(productId: string) {
    return productKeys(this.region, productId);
  }

  /**
   * How many buckets a product has in this region (core/reservation/buckets.ts), or undefined while
   * it is not active here. A count is kept once read: set at creation, it never changes. None is
   * kept for a product not active yet: another core may activate it split at any moment, and an
   * order or allocation change taken meanwhile as unsplit would miss its buckets (a retry on a core
   * that knows the split could then reserve the same order again in another bucket).
   */
  protected async countOf(productId: string): Promise<number | undefined> {
    const known = this.bucketCounts.get(productId);
    if (known !== undefined) return known;
    const [buckets, active] = (await this.command(["HMGET", this.keys(productId).product, "buckets", "productId"])) as (
      | string
      | null
    )[];
    if (active === null || active === undefined) return undefined;
    // A product activated before buckets existed has no count: unsplit, for good.
    const count = Number(buckets ?? 1) || 1;
    this.bucketCounts.set(productId, count);
    return count;
  }

  /** Keeps the count a product was just activated with (it never changes: countOf). */
  protected knowBuckets(productId: string, buckets: number): void {
    this.bucketCounts.set(productId, buckets);
  }

  /** How many buckets a product has in this region: 1 unless it was split (or is not active here). */
  async bucketsOf(productId: string): Promise<number> {
    return (await this.countOf(productId)) ?? 1;
  }

  /** A product's buckets as the store addresses them (its own id alone when it is not split). */
  protected async bucketsOfProduct(productId: string): Promise<string[]> {
    return bucketIds(productId, await this.bucketsOf(productId));
  }

  /** The products active in this region. */
  products(): Promise<string[]> {
    return this.redis.smembers(regionProductsKey(this.region));
  }

  /** Every bucket of every product active here (an unsplit product is its own one): what the relay, the sweeper and the retention sweep walk. */
  async buckets(): Promise<string[]> {
    return (await Promise.all((await this.products()).map((p) => this.bucketsOfProduct(p)))).flat();
  }

  /**
   * Each product's commands in one pipeline of its own (a pipeline on a cluster keeps to one
   * slot), all sent at once: one round trip to each master. Their replies, per product.
   */
  async perProduct(
    products: string[],
    add: (pipeline: ReturnType<RedisConnection["pipeline"]>, productId: string) => unknown,
  ): Promise<unknown[][]> {
    return Promise.all(
      products.map(async (productId) => {
        const pipeline = this.redis.pipeline();
        add(pipeline, productId);
        return ((await pipeline.exec()) ?? []).map(([error, value]) => {
          if (error) throw error;
          return value;
        });
      }),
    );
  }
}
