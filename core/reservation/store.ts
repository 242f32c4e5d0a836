/**
 * A region's live inventory in its Redis: typed calls over the Lua scripts beside this file.
 * Outcomes are values, not exceptions: a sold-out product is an answer, not a failure.
 */
import type { OrderStatus } from "../../shared/events.ts";
import { IDEMPOTENCY_WINDOW_MS } from "../../shared/config.ts";
import { bucketId, orderKey, outboxPendingKey, productKeys, regionProductsKey } from "../../shared/keys.ts";
import type { ProblemCode } from "../../shared/problems.ts";
import { Cluster, masters, type RedisConnection } from "../../shared/redis.ts";
import { luaScript, runScript, type RespSend } from "../../shared/lua.ts";
import type { Result } from "../../shared/result.ts";
import { ROOM_MODES, type RoomMode } from "../../shared/room-modes.ts";
import { bucketChangeId, bucketIds, bucketsFrom, spreadUnits } from "./buckets.ts";
import { keyedBatcher } from "../../shared/batcher.ts";
import { sharedWait } from "./replica-wait.ts";
import { respScripts, scriptsFor, type Scripts } from "./scripts.ts";

/** A refusal about an existing order names the status it is in. */
export type Outcome<T> = Result<T, { status?: OrderStatus }>;

export interface ReservationRequest {
  orderId: string;
  userId: string;
  productId: string;
  quantity: number;
  originRegion: string;
  /** The buyer's home region, recorded with the order and carried by its events. */
  homeRegion?: string;
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
  /** Where the buyer's allowance for it lives; unknown for orders reserved before homes were recorded. */
  homeRegion?: string;
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
  /** Buckets per region (core/reservation/buckets.ts): 1 unless the product is split for a hot sale. */
  buckets: number;
  /**
   * When the rules last changed in PostgreSQL (ms; each change later than the one before): a
   * region keeps the newest rules it was given, however late an older load lands. 0 when unknown.
   */
  version?: number;
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

const sumStocks = (stocks: Stock[]): Stock =>
  stocks.reduce(
    (a, b) => ({
      allocated: a.allocated + b.allocated,
      available: a.available + b.available,
      held: a.held + b.held,
      sold: a.sold + b.sold,
    }),
    { allocated: 0, available: 0, held: 0, sold: 0 },
  );

const expiry = (raw: unknown) => (raw === "" || raw === null || raw === undefined ? null : Number(raw));

/** An ended order as the retention sweep offers it: its id and the status PostgreSQL holds. */
export interface StoredOrder {
  orderId: string;
  status: OrderStatus;
}

/** The refusals for want of units: a product split into buckets tries the next bucket on them. */
const WANT_OF_UNITS = new Set<ProblemCode>(["sold_out", "insufficient_stock"]);

/** A blocked change's answers (allocate.lua): refused now or before, or no such product here. */
const BLOCKED = new Set<ProblemCode>(["insufficient_available", "unknown_product"]);

/**
 * Reservations of one bucket gathered into one script call (reserve.lua takes a batch): a lone one
 * goes at once; while a call is out, the ones that come wait for the next, which takes them all.
 */
export const RESERVE_BATCH = { maxBatch: 128, maxInFlight: 1 };

/** One order as reserve.lua's batch takes it. */
interface ScriptOrder {
  request: ReservationRequest;
  passing: boolean;
}

type ScriptReply = (string | number | null)[];

/** An outbox entry as Redis gives it: its id, then its fields and values in turn. */
export type OutboxEntry = [id: string, fields: string[]];

/**
 * Takes the products noted in a region's outbox-pending set. It is a sorted set (every score 0)
 * so that the idle relay can block on it (BZMPOP); the take itself runs on the commands every
 * core's Redis user has had (ZRANGE, ZREM). KEYS[1] the set; ARGV[1] the most to take.
 */
const takePending = luaScript(`local taken = redis.call("ZRANGE", KEYS[1], 0, tonumber(ARGV[1]) - 1)
for _, product in ipairs(taken) do redis.call("ZREM", KEYS[1], product) end
return taken`);

export class RegionStore {
  private readonly scripts: Scripts;
  /** The reservation path's client (Bun's own) where there is one, else ioredis. */
  readonly command: RespSend;
  private readonly notePending: (productId: string) => Promise<unknown>;
  /** Bucket → its shared `WAIT 1` (replica-wait.ts). */
  private readonly replicaWaits = new Map<string, () => Promise<number>>();
  /** Product → its buckets here (countOf). */
  private readonly bucketCounts = new Map<string, number>();
  /** Bucket → its reservations gathered into script calls (RESERVE_BATCH). */
  private readonly reserveBatched = keyedBatcher<ScriptOrder, ScriptReply>((productId) => ({
    ...RESERVE_BATCH,
    send: (orders) => this.reserveScript(productId, orders),
  }));

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
    this.notePending = (productId) => this.command(["ZADD", outboxPendingKey(region), 0, productId]);
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

  /**
   * How many buckets a product has in this region (core/reservation/buckets.ts), or undefined while
   * it is not active here. A count is kept once read: set at creation, it never changes. None is
   * kept for a product not active yet: another core may activate it split at any moment, and an
   * order or allocation change taken meanwhile as unsplit would miss its buckets (a retry on a core
   * that knows the split could then reserve the same order again in another bucket).
   */
  private async countOf(productId: string): Promise<number | undefined> {
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

  /** How many buckets a product has in this region: 1 unless it was split (or is not active here). */
  async bucketsOf(productId: string): Promise<number> {
    return (await this.countOf(productId)) ?? 1;
  }

  /** A product's buckets as the store addresses them (its own id alone when it is not split). */
  private async bucketsOfProduct(productId: string): Promise<string[]> {
    return bucketIds(productId, await this.bucketsOf(productId));
  }

  /** The last three ARGV of every order script (common.lua). */
  private scriptTail(productId: string): (string | number)[] {
    const k = this.keys(productId);
    return [k.orderPrefix, k.tombstonePrefix, IDEMPOTENCY_WINDOW_MS];
  }

  /**
   * Reserves in the product's one bucket, or, split, in the buyer's bucket first and the next ones
   * in turn while a bucket has too few units: sold out only when every bucket is.
   */
  async reserve(request: ReservationRequest): Promise<Outcome<Reservation>> {
    const buckets = await this.countOf(request.productId);
    if (buckets === undefined) return { ok: false, code: "unknown_product" };
    if (buckets === 1) return this.reserveIn(request.productId, request, false);
    let refusal: Outcome<Reservation> | undefined;
    for (const bucket of bucketsFrom(request.userId, buckets)) {
      const outcome = await this.reserveIn(bucketId(request.productId, bucket), request, true);
      if (outcome.ok || !WANT_OF_UNITS.has(outcome.code)) return outcome;
      if (!refusal || outcome.code === "insufficient_stock") refusal = outcome;
    }
    return refusal!;
  }

  /**
   * One script call for a batch of one bucket's orders (reserve.lua), each with its own reply. A
   * call that fails fails for every order in it: each is then unsettled, and a retry of any of
   * them is answered by its order id, whichever of them Redis had reserved.
   */
  private async reserveScript(productId: string, orders: ScriptOrder[]): Promise<ScriptReply[]> {
    const keys = [...this.productScriptKeys(productId), this.keys(productId).passed];
    const args: (string | number)[] = [this.outboxLimit, orders.length];
    for (const { request, passing } of orders) {
      const { orderId, userId, quantity, originRegion, homeRegion = "", notAfter = 0 } = request;
      keys.push(orderKey(this.region, productId, orderId));
      args.push(orderId, userId, quantity, originRegion, notAfter, passing ? 1 : 0, homeRegion);
    }
    return (await this.scripts.reserve(keys, [...args, ...this.scriptTail(productId)])) as ScriptReply[];
  }

  /** `passing`: the bucket notes an order it turns away for want of units (reserve.lua). */
  private async reserveIn(
    productId: string,
    request: ReservationRequest,
    passing: boolean,
  ): Promise<Outcome<Reservation>> {
    const { orderId } = request;
    const reply = await this.reserveBatched(productId, { request, passing });
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

  /** Settles the order in the bucket that holds it (the others answer not_found, and change nothing). */
  private async settle(script: "confirm" | "cancel", productId: string, orderId: string): Promise<Outcome<OrderState>> {
    const outcomes = await Promise.all(
      (await this.bucketsOfProduct(productId)).map((bucket) => this.settleIn(script, bucket, orderId)),
    );
    return outcomes.find((o) => o.ok || o.code !== "not_found") ?? outcomes[0]!;
  }

  private async settleIn(
    script: "confirm" | "cancel",
    productId: string,
    orderId: string,
  ): Promise<Outcome<OrderState>> {
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
   * How many replicas have this reservation's write, waiting up to `replicaWaitMs` for one: a
   * `WAIT 1` sent after it, shared with the reservations that came at once (replica-wait.ts).
   */
  private replicasHaving(productId: string): Promise<number> {
    let wait = this.replicaWaits.get(productId);
    if (!wait) {
      wait = sharedWait(() => this.sendWait(productId));
      this.replicaWaits.set(productId, wait);
    }
    return wait();
  }

  /**
   * `WAIT 1` on the connection to the master of `productId`'s slot. On a cluster the command goes
   * in a pipeline behind a read of the product's key, which takes it to that master's connection.
   */
  private async sendWait(productId: string): Promise<number> {
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
    const products = await this.buckets();
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
    return (await runScript(this.command, takePending, [outboxPendingKey(this.region)], [100_000])) as string[];
  }

  /**
   * Waits until a script notes an outbox (BZMPOP), at most `timeoutMs`, and takes the products
   * noted: the idle relay's one command, on a connection of its own (`blocking`), since a
   * blocking command holds its connection. [] when none came in time.
   */
  async waitPendingOutboxes(blocking: RespSend, timeoutMs: number): Promise<string[]> {
    const reply = (await blocking([
      "BZMPOP",
      timeoutMs / 1000,
      1,
      outboxPendingKey(this.region),
      "MIN",
      "COUNT",
      100_000,
    ])) as [string, [string, unknown][]] | null;
    return reply ? reply[1].map(([product]) => String(product)) : [];
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
    const replies = await Promise.all(
      bucketIds(rules.productId, rules.buckets).map((bucket) =>
        this.scripts.activate(
          [this.keys(bucket).product],
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
            rules.buckets,
            rules.version ?? 0,
          ],
        ),
      ),
    );
    this.bucketCounts.set(rules.productId, rules.buckets);
    await this.redis.sadd(regionProductsKey(this.region), rules.productId);
    return sumStocks(replies.map((reply) => stockOf(reply.slice(1))));
  }

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
    const buckets = await this.bucketsOf(productId);
    if (buckets === 1) {
      const outcome = await this.allocateIn(productId, changeId, units, "exact", notAfter);
      if (!outcome.ok) return outcome;
      const { moved: _, ...stock } = outcome.value;
      return { ok: true, value: stock };
    }
    // Split: the change's outcome is kept under its own id in bucket 0, each bucket's part under
    // `<change>#<bucket>`, so a retry after a crash anywhere finishes the same change.
    const decided = await this.allocationChange(productId, changeId);
    if (decided === "refused") return { ok: false, code: "insufficient_available" };
    if (decided === undefined) {
      const moved =
        units > 0
          ? await this.spreadOver(productId, changeId, units, notAfter)
          : await this.gatherFrom(productId, changeId, -units, notAfter);
      if (moved !== true) return moved;
      await this.remember(productId, changeId, units);
    }
    const stock = await this.stock(productId);
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
    const buckets = await this.bucketsOf(productId);
    if (buckets === 1) return decision(await this.allocateIn(productId, changeId, units, "block"));
    const decided = await this.allocationChange(productId, changeId);
    if (decided !== undefined) return { ok: true, value: decided };
    // Every part is settled for good once blocked: applied by a driver before, or never.
    const parts = await Promise.all(
      Array.from({ length: buckets }, async (_, bucket) =>
        decision(await this.allocateIn(bucketId(productId, bucket), bucketChangeId(changeId, bucket), units, "block")),
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
      const back = await this.allocateIn(
        bucketId(productId, bucket),
        bucketChangeId(changeId, bucket, true),
        -part,
        "exact",
        notAfter,
      );
      if (!back.ok) return back;
    }
    await this.remember(productId, changeId, "refused");
    return { ok: true, value: "refused" };
  }

  /** New units, as evenly as whole units go over the buckets. */
  private async spreadOver(
    productId: string,
    changeId: string,
    units: number,
    notAfter: number,
  ): Promise<true | Outcome<never>> {
    const parts = spreadUnits(units, await this.bucketsOf(productId));
    for (const [bucket, part] of parts.entries()) {
      if (part === 0) continue;
      const outcome = await this.allocateIn(
        bucketId(productId, bucket),
        bucketChangeId(changeId, bucket),
        part,
        "exact",
        notAfter,
      );
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
    for (const bucket of bucketsFrom(changeId, await this.bucketsOf(productId))) {
      if (wanted === 0) break;
      const outcome = await this.allocateIn(
        bucketId(productId, bucket),
        bucketChangeId(changeId, bucket),
        -wanted,
        "up-to",
        notAfter,
      );
      if (!outcome.ok && outcome.code === "insufficient_available") break;
      if (!outcome.ok) return outcome;
      wanted += outcome.value.moved;
      if (outcome.value.moved < 0) given.push([bucket, -outcome.value.moved]);
    }
    if (wanted === 0) return true;
    for (const [bucket, back] of given) {
      const outcome = await this.allocateIn(
        bucketId(productId, bucket),
        bucketChangeId(changeId, bucket, true),
        back,
        "exact",
        notAfter,
      );
      if (!outcome.ok) return outcome;
    }
    await this.remember(productId, changeId, "refused");
    return { ok: false, code: "insufficient_available" };
  }

  /** A split product's allocation change decided: its units, or `refused`, beside its parts in bucket 0. */
  private async remember(productId: string, changeId: string, outcome: number | "refused"): Promise<void> {
    const k = this.keys(productId);
    await this.redis
      .pipeline()
      .hset(k.allocationChanges, changeId, outcome)
      .zadd(k.allocationChangeTimes, Date.now(), changeId)
      .exec();
  }

  /** One bucket's allocation change (allocate.lua, which says what each mode does). */
  private async allocateIn(
    productId: string,
    changeId: string,
    units: number,
    mode: "exact" | "up-to" | "block",
    notAfter = 0,
  ): Promise<Outcome<Stock & { replayed: boolean; moved: number }>> {
    const k = this.keys(productId);
    const reply = await this.scripts.allocate(
      [k.product, k.allocationChanges, k.allocationChangeTimes],
      [changeId, units, mode, notAfter],
    );
    if (reply[0] !== "ok") return { ok: false, code: reply[1] as ProblemCode };
    return { ok: true, value: { ...stockOf(reply.slice(1)), replayed: reply[5] === 1, moved: Number(reply[6]) } };
  }

  /** Units an allocation change moved here, `refused`, or undefined if it never reached Redis. */
  async allocationChange(productId: string, changeId: string): Promise<number | "refused" | undefined> {
    const value = await this.redis.hget(this.keys(productId).allocationChanges, changeId);
    return value === null ? undefined : value === "refused" ? "refused" : Number(value);
  }

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

  /** The products active in this region. */
  products(): Promise<string[]> {
    return this.redis.smembers(regionProductsKey(this.region));
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

  /** Every bucket of every product active here (an unsplit product is its own one): what the relay, the sweeper and the retention sweep walk. */
  async buckets(): Promise<string[]> {
    return (await Promise.all((await this.products()).map((p) => this.bucketsOfProduct(p)))).flat();
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
