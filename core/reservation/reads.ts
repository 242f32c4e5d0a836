/**
 * What a region's Redis says of its sales and orders, for those who only look: the HTTP API's
 * product and order lookups, the metrics, `flux-gate verify`. Reads only, never a script.
 */
import type { OrderStatus } from "../../shared/events.ts";
import { orderKey } from "../../shared/keys.ts";
import { masters } from "../../shared/redis.ts";
import { ROOM_MODES } from "../../shared/room-modes.ts";
import { parseInfo } from "./redis-info.ts";
import { RegionRedis } from "./region-redis.ts";
import { expiry } from "./replies.ts";
import { stockOf, sumStocks } from "./stock.ts";
import type { OrderRecord, SaleTerms, Stock } from "./types.ts";

export class RegionReads extends RegionRedis {
  /** A product's counters in this region: over all its buckets when it is split. */
  async stock(productId: string): Promise<Stock | undefined> {
    const readings = await Promise.all(
      (await this.bucketsOfProduct(productId)).map((bucket) =>
        this.redis.hmget(this.keys(bucket).product, "allocated", "available", "held", "sold"),
      ),
    );
    if (readings[0]![0] === null) return undefined;
    return sumStocks(readings.filter((r) => r[0] !== null).map(stockOf));
  }

  /** The counters of every product whose sale ends after `since` (ms): the sales worth watching. */
  async recentStocks(since: number): Promise<{ productId: string; stock: Stock }[]> {
    const products = await this.products();
    const ends = await this.perProduct(products, (pipeline, id) => pipeline.hget(this.keys(id).product, "endsAt"));
    const watched = products.filter((_, i) => ends[i]![0] !== null && Number(ends[i]![0]) > since);
    const stocks = await Promise.all(watched.map((id) => this.stock(id)));
    return watched.flatMap((productId, i) => (stocks[i] ? [{ productId, stock: stocks[i] }] : []));
  }

  /** What the edge needs of a sale before it asks for units: the window, the limits, the room. */
  async saleTerms(productId: string): Promise<SaleTerms | undefined> {
    const [startsAt, endsAt, paused, perUserLimit, maxPerOrder, roomMode, roomRate] = await this.redis.hmget(
      this.keys(productId).product,
      "startsAt",
      "endsAt",
      "paused",
      "perUserLimit",
      "maxPerOrder",
      "roomMode",
      "roomRate",
    );
    if (startsAt === null || endsAt === null) return undefined;
    return {
      startsAt: new Date(Number(startsAt)).toISOString(),
      endsAt: new Date(Number(endsAt)).toISOString(),
      paused: paused === "1",
      perUserLimit: Number(perUserLimit),
      maxPerOrder: Number(maxPerOrder),
      // A product activated before the room existed has none.
      roomMode: ROOM_MODES.find((m) => m === roomMode) ?? "off",
      roomRate: Number(roomRate ?? 0),
    };
  }

  /**
   * The region's Redis memory in bytes: what it uses, and its `maxmemory` (0: no limit). On a
   * cluster, the fullest master's: the first to refuse writes.
   */
  async memory(): Promise<{ used: number; max: number }> {
    const readings = await Promise.all(masters(this.redis).map(async (node) => parseInfo(await node.info("memory"))));
    const fullest = readings.reduce((a, b) => (Number(b.used_memory) > Number(a.used_memory) ? b : a));
    return { used: Number(fullest.used_memory), max: Number(fullest.maxmemory) };
  }

  /** Entries waiting in each product's outbox (a split product's buckets' together). */
  async outboxDepths(): Promise<Map<string, number>> {
    const products = await this.products();
    const depths = await Promise.all(
      products.map(async (productId) => {
        const buckets = await this.bucketsOfProduct(productId);
        const lengths = await Promise.all(buckets.map((bucket) => this.redis.xlen(this.keys(bucket).outbox)));
        return lengths.reduce((a, b) => a + b, 0);
      }),
    );
    return new Map(products.map((productId, i) => [productId, depths[i]!]));
  }

  /** The order as the bucket that holds it has it. */
  async order(productId: string, orderId: string): Promise<OrderRecord | undefined> {
    const found = await Promise.all(
      (await this.bucketsOfProduct(productId)).map((bucket) =>
        this.redis.hgetall(orderKey(this.region, bucket, orderId)),
      ),
    );
    const o = found.find((fields) => fields.status);
    if (!o) return undefined;
    return {
      orderId,
      productId: o.product!,
      region: o.region!,
      originRegion: o.origin!,
      userId: o.user!,
      ...(o.home ? { homeRegion: o.home } : {}),
      quantity: Number(o.qty),
      status: o.status as OrderStatus,
      reservedAt: Number(o.reservedAt),
      expiresAt: expiry(o.expiresAt),
    };
  }
}
