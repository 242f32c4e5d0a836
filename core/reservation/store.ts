/**
 * A region's live inventory in its Redis: typed calls over the Lua scripts beside this file.
 * Outcomes are values, not exceptions: a sold-out product is an answer, not a failure.
 */
import type { OrderStatus } from "../../shared/events.ts";
import { IDEMPOTENCY_WINDOW_MS } from "../../shared/config.ts";
import { orderKey, outboxPendingKey, productKeys, regionProductsKey } from "../../shared/keys.ts";
import type { ProblemCode } from "../../shared/problems.ts";
import { Cluster, masters, type RedisConnection } from "../../shared/redis.ts";
import type { RespSend } from "../../shared/lua.ts";
import type { Result } from "../../shared/result.ts";
import { ROOM_MODES, type RoomMode } from "../../shared/room-modes.ts";
import { respScripts, scriptsFor, type Scripts } from "./scripts.ts";

/** A refusal about an existing order names the status it is in. */
export type Outcome<T> = Result<T, { status?: OrderStatus }>;

export interface ReservationRequest {
  orderId: string;
  userId: string;
  productId: string;
  quantity: number;
  originRegion: string;
  /** Reserve nothing if this runs later (ms since the epoch, Redis's clock). */
  notAfter?: number;
}

export interface OrderState {
  orderId: string;
  status: OrderStatus;
  /** When an unconfirmed hold runs out (ms); null once sold. */
  expiresAt: number | null;
}

export interface Reservation extends OrderState {
  /** True when this order id was reserved before: nothing changed, this is the first outcome. */
  replayed: boolean;
  /** The region the buyer came from, as the order was first reserved. */
  originRegion: string;
}

export interface OrderRecord extends OrderState {
  productId: string;
  region: string;
  originRegion: string;
  userId: string;
  quantity: number;
  reservedAt: number;
}

export interface SaleRules {
  productId: string;
  startsAt: Date;
  endsAt: Date;
  perUserLimit: number;
  maxPerOrder: number;
  holdSeconds: number;
  paused: boolean;
  /** The waiting room the edge runs for this product (shared/room-modes.ts), and its admissions per second here. */
  roomMode: RoomMode;
  roomRate: number;
}

export interface SaleTerms {
  startsAt: string;
  endsAt: string;
  paused: boolean;
  perUserLimit: number;
  maxPerOrder: number;
  roomMode: RoomMode;
  roomRate: number;
}

export interface Stock {
  allocated: number;
  available: number;
  held: number;
  sold: number;
}

/** Counters as Redis and the core's JSON give them (strings or numbers), as numbers. */
export const stockOf = ([allocated, available, held, sold]: unknown[]): Stock => ({
  allocated: Number(allocated),
  available: Number(available),
  held: Number(held),
  sold: Number(sold),
});

/** `INFO`'s `field:value` lines as a record. Pure. */
export function parseInfo(text: string): Record<string, string> {
  return Object.fromEntries(
    text
      .split(/\r?\n/)
      .filter((line) => line.includes(":") && !line.startsWith("#"))
      .map((line) => [line.slice(0, line.indexOf(":")), line.slice(line.indexOf(":") + 1)]),
  );
}

/** Redis's refusal of a write past `maxmemory` under `noeviction`. */
export const isOutOfMemory = (error: unknown) => String(error).includes("OOM command not allowed");

const expiry = (raw: unknown) => (raw === "" || raw === null || raw === undefined ? null : Number(raw));

/** An ended order as the retention sweep offers it: its id and the status PostgreSQL holds. */
export interface StoredOrder {
  orderId: string;
  status: OrderStatus;
}

/** An outbox entry as Redis gives it: its id, then its fields and values in turn. */
export type OutboxEntry = [id: string, fields: string[]];

export class RegionStore {
  private readonly scripts: Scripts;
  /** The reservation path's client (Bun's own) where there is one, else ioredis. */
  readonly command: RespSend;
  private readonly notePending: (productId: string) => Promise<unknown>;

  /**
   * `redis` serves every read; `requestPath`, when given, runs the scripts and the writes of
   * the reservation path instead (the core passes Bun's own client: docs/benchmarks.md).
   * `replicaWaitMs` > 0: a reservation is answered once a replica has it (`WAIT 1`).
   */
  constructor(
    readonly redis: RedisConnection,
    readonly region: string,
    private readonly outboxLimit: number,
    requestPath?: RespSend,
    private readonly replicaWaitMs = 0,
  ) {
    this.scripts = requestPath ? respScripts(requestPath) : scriptsFor(redis);
    this.command = requestPath ?? (([name, ...args]) => redis.call(String(name), ...args));
    this.notePending = (productId) => this.command(["SADD", outboxPendingKey(region), productId]);
  }

  private keys(productId: string) {
    return productKeys(this.region, productId);
  }

  /** KEYS 1–5 of every order script (common.lua). */
  private productScriptKeys(productId: string): string[] {
    const k = this.keys(productId);
    return [k.product, k.users, k.holds, k.outbox, k.ended];
  }

  private orderScriptKeys(productId: string, orderId: string): string[] {
    return [...this.productScriptKeys(productId), orderKey(this.region, productId, orderId)];
  }

  /** The last three ARGV of every order script (common.lua). */
  private scriptTail(productId: string): (string | number)[] {
    const k = this.keys(productId);
    return [k.orderPrefix, k.tombstonePrefix, IDEMPOTENCY_WINDOW_MS];
  }

  async reserve(request: ReservationRequest): Promise<Outcome<Reservation>> {
    const { orderId, userId, productId, quantity, originRegion, notAfter = 0 } = request;
    const reply = await this.scripts.reserve(this.orderScriptKeys(productId, orderId), [
      orderId,
      userId,
      quantity,
      originRegion,
      this.outboxLimit,
      notAfter,
      ...this.scriptTail(productId),
    ]);
    if (reply[0] !== "ok") return { ok: false, code: reply[1] as ProblemCode };
    const replayed = reply[3] === 1;
    // The relay's cue when this order's event is the only one waiting.
    if (reply[5] === 1) await this.notePending(productId);
    // A replay waits too: its first answer may have been the one that found no replica.
    if (this.replicaWaitMs > 0 && (await this.replicasHaving(productId)) < 1)
      return { ok: false, code: "not_replicated" };
    return {
      ok: true,
      value: {
        orderId,
        status: reply[1] as OrderStatus,
        expiresAt: expiry(reply[2]),
        replayed,
        originRegion: String(reply[4]),
      },
    };
  }

  confirm(productId: string, orderId: string): Promise<Outcome<OrderState>> {
    return this.settle("confirm", productId, orderId);
  }

  cancel(productId: string, orderId: string): Promise<Outcome<OrderState>> {
    return this.settle("cancel", productId, orderId);
  }

  private async settle(script: "confirm" | "cancel", productId: string, orderId: string): Promise<Outcome<OrderState>> {
    const reply = await this.scripts[script](this.orderScriptKeys(productId, orderId), [
      orderId,
      ...this.scriptTail(productId),
    ]);
    if (reply[0] !== "ok") {
      return { ok: false, code: reply[1] as ProblemCode, ...(reply[2] ? { status: reply[2] as OrderStatus } : {}) };
    }
    await this.notePending(productId);
    return { ok: true, value: { orderId, status: reply[1] as OrderStatus, expiresAt: expiry(reply[2]) } };
  }

  /**
   * Expires holds past their time, at most `limit`; returns how many it expired, and when the
   * next may fall due (ms; undefined while the product takes no holds).
   */
  async expireDue(productId: string, limit: number): Promise<{ expired: number; nextDueAt?: number }> {
    const [expired, nextDueAt] = (
      await this.scripts.expire(this.productScriptKeys(productId), [limit, ...this.scriptTail(productId)])
    ).map(Number) as [number, number];
    if (expired > 0) await this.notePending(productId);
    return { expired, ...(nextDueAt >= 0 ? { nextDueAt } : {}) };
  }

  /**
   * How many replicas have every write so far on the connection to the master of `productId`'s
   * slot, waiting up to `replicaWaitMs` for one (`WAIT`). On a cluster the command goes in a
   * pipeline behind a read of the product's key, which takes it to that master's connection.
   */
  private async replicasHaving(productId: string): Promise<number> {
    if (!(this.redis instanceof Cluster)) return Number(await this.command(["WAIT", 1, this.replicaWaitMs]));
    const replies = await this.redis
      .pipeline()
      .exists(this.keys(productId).product)
      .call("WAIT", 1, this.replicaWaitMs)
      .exec();
    const [error, replicas] = replies?.[1] ?? [new Error("no reply to WAIT")];
    if (error) throw error;
    return Number(replicas);
  }

  /** Ended orders (confirmed, cancelled, expired) that ended before `cutoff` (ms), at most `limit`. */
  endedBefore(productId: string, cutoff: number, limit: number): Promise<string[]> {
    return this.redis.zrangebyscore(this.keys(productId).ended, "-inf", cutoff, "LIMIT", 0, limit);
  }

  /**
   * The region's products with orders that ended, or allocation changes that came, before
   * `cutoff` (ms): at most `limit` of each per product, in one round trip for all products.
   */
  async retained(
    cutoff: number,
    limit: number,
  ): Promise<{ productId: string; ended: string[]; changeIds: string[] }[]> {
    const products = await this.products();
    const found = await this.perProduct(products, (pipeline, productId) => {
      const k = this.keys(productId);
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
    const reply = await this.scripts.forget(this.productScriptKeys(productId), [
      ...stored.flatMap((o) => [o.orderId, o.status]),
      ...this.scriptTail(productId),
    ]);
    return reply.map(String);
  }

  /** Forgets allocation change ids the transfer ledger has settled: no driver retries them. */
  async forgetChanges(productId: string, changeIds: string[]): Promise<void> {
    if (changeIds.length === 0) return;
    const k = this.keys(productId);
    await this.redis
      .pipeline()
      .hdel(k.allocationChanges, ...changeIds)
      .zrem(k.allocationChangeTimes, ...changeIds)
      .exec();
  }

  /** Takes the products whose outbox may have entries the relay has not seen (outboxPendingKey). */
  async takePendingOutboxes(): Promise<string[]> {
    return (await this.command(["SPOP", outboxPendingKey(this.region), 100_000])) as string[];
  }

  /** The oldest `count` entries of each product's outbox. */
  outboxEntries(products: string[], count: number): Promise<OutboxEntry[][]> {
    return Promise.all(
      products.map(
        (p) => this.command(["XRANGE", this.keys(p).outbox, "-", "+", "COUNT", count]) as Promise<OutboxEntry[]>,
      ),
    );
  }

  /** Removes each product's outbox entries below `below` (a stream id); returns how many each holds after. */
  trimOutboxes(trims: { productId: string; below: string }[]): Promise<number[]> {
    return Promise.all(
      trims.map(async ({ productId, below }) => {
        const outbox = this.keys(productId).outbox;
        const [, length] = await Promise.all([
          this.command(["XTRIM", outbox, "MINID", below]),
          this.command(["XLEN", outbox]),
        ]);
        return Number(length);
      }),
    );
  }

  /** Loads or refreshes a product's rules; the product joins the region with no units yet. */
  async activate(rules: SaleRules): Promise<Stock> {
    const reply = await this.scripts.activate(
      [this.keys(rules.productId).product],
      [
        this.region,
        rules.productId,
        rules.startsAt.getTime(),
        rules.endsAt.getTime(),
        rules.perUserLimit,
        rules.maxPerOrder,
        rules.holdSeconds * 1000,
        rules.paused ? 1 : 0,
        rules.roomMode,
        rules.roomRate,
      ],
    );
    await this.redis.sadd(regionProductsKey(this.region), rules.productId);
    return stockOf(reply.slice(1));
  }

  /**
   * Adds `units` to this region's allocation (negative: gives available units back), once per
   * `changeId`; repeating a change answers as before, with `replayed` set.
   */
  async allocate(productId: string, changeId: string, units: number): Promise<Outcome<Stock & { replayed: boolean }>> {
    const k = this.keys(productId);
    const reply = await this.scripts.allocate(
      [k.product, k.allocationChanges, k.allocationChangeTimes],
      [changeId, units],
    );
    if (reply[0] !== "ok") return { ok: false, code: reply[1] as ProblemCode };
    return { ok: true, value: { ...stockOf(reply.slice(1)), replayed: reply[5] === 1 } };
  }

  /** Units an allocation change moved here, `refused`, or undefined if it never reached Redis. */
  async allocationChange(productId: string, changeId: string): Promise<number | "refused" | undefined> {
    const value = await this.redis.hget(this.keys(productId).allocationChanges, changeId);
    return value === null ? undefined : value === "refused" ? "refused" : Number(value);
  }

  async stock(productId: string): Promise<Stock | undefined> {
    const [allocated, available, held, sold] = await this.redis.hmget(
      this.keys(productId).product,
      "allocated",
      "available",
      "held",
      "sold",
    );
    if (allocated === null) return undefined;
    return { allocated: Number(allocated), available: Number(available), held: Number(held), sold: Number(sold) };
  }

  /** The counters of every product whose sale ends after `since` (ms), in one round trip: the sales worth watching. */
  async recentStocks(since: number): Promise<{ productId: string; stock: Stock }[]> {
    const products = await this.products();
    const found = await this.perProduct(products, (pipeline, id) =>
      pipeline.hmget(this.keys(id).product, "allocated", "available", "held", "sold", "endsAt"),
    );
    return found.flatMap(([reply], i) => {
      const counters = reply as (string | null)[];
      return counters[0] === null || Number(counters[4]) <= since
        ? []
        : [{ productId: products[i]!, stock: stockOf(counters) }];
    });
  }

  /** The sale window, pause flag and per-buyer bounds as this region has them. */
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
   * Each product's commands in one pipeline of its own (a pipeline on a cluster keeps to one
   * slot), all sent at once: one round trip to each master. Their replies, per product.
   */
  private async perProduct(
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

  /**
   * The region's Redis memory in bytes: what it uses, and its `maxmemory` (0: no limit). On a
   * cluster, the fullest master's: the first to refuse writes.
   */
  async memory(): Promise<{ used: number; max: number }> {
    const readings = await Promise.all(masters(this.redis).map(async (node) => parseInfo(await node.info("memory"))));
    const fullest = readings.reduce((a, b) => (Number(b.used_memory) > Number(a.used_memory) ? b : a));
    return { used: Number(fullest.used_memory), max: Number(fullest.maxmemory) };
  }

  /** The products active in this region: what the relay and the sweeper walk. */
  products(): Promise<string[]> {
    return this.redis.smembers(regionProductsKey(this.region));
  }

  async order(productId: string, orderId: string): Promise<OrderRecord | undefined> {
    const o = await this.redis.hgetall(orderKey(this.region, productId, orderId));
    if (!o.status) return undefined;
    return {
      orderId,
      productId: o.product!,
      region: o.region!,
      originRegion: o.origin!,
      userId: o.user!,
      quantity: Number(o.qty),
      status: o.status as OrderStatus,
      reservedAt: Number(o.reservedAt),
      expiresAt: expiry(o.expiresAt),
    };
  }
}
