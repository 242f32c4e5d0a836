/**
 * A region's live inventory in its Redis: typed calls over the Lua scripts beside this file.
 * Outcomes are values, not exceptions: a sold-out product is an answer, not a failure.
 *
 * The store is the order path (reserve, confirm, cancel, expire, activate) over the reads every
 * caller may make (reads.ts); each of the other callers has a room of its own, sharing the
 * store's connections and bucket counts: the relay `outbox`, the retention sweep `retention`,
 * the admin's allocation changes `allocation`.
 */
import type { ProblemCode } from "../../shared/problems.ts";
import { bucketId, orderKey, regionProductsKey } from "../../shared/keys.ts";
import { keyedBatcher } from "../../shared/batcher.ts";
import type { RespSend } from "../../shared/lua.ts";
import { Cluster, type RedisConnection } from "../../shared/redis.ts";
import { RegionAllocation } from "./allocation.ts";
import { bucketIds, bucketsFrom } from "./buckets.ts";
import { RegionOutbox } from "./outbox.ts";
import { RegionReads } from "./reads.ts";
import { sharedWait } from "./replica-wait.ts";
import { activateReply, expireReply, reserveReply, settleReply } from "./replies.ts";
import { RetentionStore } from "./retention-store.ts";
import type { Reply } from "./scripts.ts";
import { orderScriptKeys, productScriptKeys, scriptTail } from "./script-keys.ts";
import { sumStocks } from "./stock.ts";
import type { OrderState, Outcome, Reservation, ReservationRequest, SaleRules, Stock } from "./types.ts";

/** The refusals for want of units: a product split into buckets tries the next bucket on them. */
const WANT_OF_UNITS = new Set<ProblemCode>(["sold_out", "insufficient_stock"]);

/**
 * Reservations of one bucket gathered into one script call (reserve.lua takes a batch): a lone one
 * goes at once; while a call is out, the ones that come wait for the next, which takes them all.
 */
export const RESERVE_BATCH = { maxBatch: 128, maxInFlight: 1 };

/** One order as reserve.lua's batch takes it. */
interface ScriptOrder {
  request: ReservationRequest;
  /** The bucket notes an order it turns away for want of units (reserve.lua). */
  passing: boolean;
}

export class RegionStore extends RegionReads {
  readonly outbox = new RegionOutbox(this);
  readonly retention = new RetentionStore(this);
  readonly allocation = new RegionAllocation(this);
  /** Bucket → its shared `WAIT 1` (replica-wait.ts). */
  private readonly replicaWaits = new Map<string, () => Promise<number>>();
  /** Bucket → its reservations gathered into script calls (RESERVE_BATCH). */
  private readonly reserveBatched = keyedBatcher<ScriptOrder, Reply>((productId) => ({
    ...RESERVE_BATCH,
    send: (orders) => this.reserveScript(productId, orders),
  }));

  /**
   * `redis` serves every read; `requestPath`, when given, runs the scripts and the writes of
   * the reservation path instead (the core passes Bun's own client: docs/benchmarks.md).
   * `replicaWaitMs` > 0: a reservation is answered once a replica has it (`WAIT 1`).
   */
  constructor(
    redis: RedisConnection,
    region: string,
    private readonly outboxLimit: number,
    requestPath?: RespSend,
    private readonly replicaWaitMs = 0,
  ) {
    super(redis, region, requestPath);
  }

  /**
   * Reserves in the product's one bucket, or, split, in the buyer's bucket first and the next ones
   * in turn while a bucket has too few units: sold out only when every bucket is.
   */
  async reserve(request: ReservationRequest): Promise<Outcome<Reservation>> {
    const buckets = await this.countOf(request.productId);
    if (buckets === undefined) return { ok: false, code: "unknown_product" };
    if (buckets === 1) return this.reserveIn(request.productId, request, { passing: false });
    let refusal: Outcome<Reservation> | undefined;
    for (const bucket of bucketsFrom(request.userId, buckets)) {
      const outcome = await this.reserveIn(bucketId(request.productId, bucket), request, { passing: true });
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
  private async reserveScript(productId: string, orders: ScriptOrder[]): Promise<Reply[]> {
    const keys = [...productScriptKeys(this.region, productId), this.keys(productId).passed];
    const args: (string | number)[] = [this.outboxLimit, orders.length];
    for (const { request, passing } of orders) {
      const { orderId, userId, quantity, originRegion, homeRegion = "", notAfter = 0 } = request;
      keys.push(orderKey(this.region, productId, orderId));
      args.push(orderId, userId, quantity, originRegion, notAfter, passing ? 1 : 0, homeRegion);
    }
    return (await this.scripts.reserve(keys, [...args, ...scriptTail(this.region, productId)])) as Reply[];
  }

  private async reserveIn(
    productId: string,
    request: ReservationRequest,
    { passing }: { passing: boolean },
  ): Promise<Outcome<Reservation>> {
    const reply = reserveReply(await this.reserveBatched(productId, { request, passing }));
    if (!reply.ok) return reply;
    const { outboxWasEmpty, ...reserved } = reply.value;
    // The relay's cue when this order's event is the only one waiting.
    if (outboxWasEmpty) await this.outbox.note(productId);
    // A replay waits too: its first answer may have been the one that found no replica.
    if (this.replicaWaitMs > 0 && (await this.replicasHaving(productId)) < 1)
      return { ok: false, code: "not_replicated" };
    return { ok: true, value: { orderId: request.orderId, ...reserved } };
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
    const reply = settleReply(
      await this.scripts[script](orderScriptKeys(this.region, productId, orderId), [
        orderId,
        ...scriptTail(this.region, productId),
      ]),
    );
    if (!reply.ok) return reply;
    await this.outbox.note(productId);
    return { ok: true, value: { orderId, ...reply.value } };
  }

  /**
   * Expires holds past their time, at most `limit`; returns how many it expired, and when the
   * next may fall due (ms; undefined while the product takes no holds).
   */
  async expireDue(productId: string, limit: number): Promise<{ expired: number; nextDueAt?: number }> {
    const round = expireReply(
      await this.scripts.expire(productScriptKeys(this.region, productId), [
        limit,
        ...scriptTail(this.region, productId),
      ]),
    );
    if (round.expired > 0) await this.outbox.note(productId);
    return round;
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
    this.knowBuckets(rules.productId, rules.buckets);
    await this.redis.sadd(regionProductsKey(this.region), rules.productId);
    return sumStocks(replies.map(activateReply));
  }
}
