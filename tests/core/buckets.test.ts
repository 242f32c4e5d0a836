/**
 * A hot product split into buckets, against a Redis of the test's own: orders fall over from an
 * empty bucket to the next, a retry never reserves twice, allocations spread over the buckets and
 * releases gather from them, and every view is the sum.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { bucketsFrom } from "../../core/reservation/buckets.ts";
import { RegionStore } from "../../core/reservation/store.ts";
import { bucketId, productKeys } from "../../shared/keys.ts";
import { connectRedis, type Redis } from "../../shared/redis.ts";
import { ownRedis, saleRules } from "../support/helpers.ts";

const REGION = "test-buckets";

describe("a product split into three buckets", () => {
  let server: Awaited<ReturnType<typeof ownRedis>>;
  let redis: Redis;
  let store: RegionStore;

  beforeAll(async () => {
    server = await ownRedis();
    redis = connectRedis(server.url);
    store = new RegionStore(redis, REGION, 100_000);
  });
  afterAll(async () => {
    redis.disconnect();
    await server.stop();
  });

  const split = async () => {
    const rules = saleRules("split", { buckets: 3 });
    await store.activate(rules);
    return rules.productId;
  };
  const available = (productId: string) =>
    Promise.all(
      [0, 1, 2].map(async (b) =>
        Number(await redis.hget(productKeys(REGION, bucketId(productId, b)).product, "available")),
      ),
    );
  const reserve = (productId: string, userId: string, orderId: string = crypto.randomUUID()) =>
    store.reserve({ orderId, userId, productId, quantity: 1, originRegion: REGION });
  /** A buyer whose orders try `first` bucket first. */
  const buyerStartingAt = (first: number) => {
    for (let i = 0; ; i++) if (bucketsFrom(`buyer-${i}`, 3)[0] === first) return `buyer-${i}`;
  };

  test("units spread over the buckets; buyers take every unit and no more; sold out only when every bucket is", async () => {
    const productId = await split();
    expect(await store.allocation.allocate(productId, "spread", 10)).toMatchObject({
      ok: true,
      value: { allocated: 10, available: 10 },
    });
    expect(await available(productId)).toEqual([4, 3, 3]);
    const outcomes = await Promise.all(Array.from({ length: 30 }, (_, i) => reserve(productId, `buyer-${i}`)));
    expect(outcomes.filter((o) => o.ok)).toHaveLength(10);
    expect(new Set(outcomes.filter((o) => !o.ok).map((o) => !o.ok && o.code))).toEqual(new Set(["sold_out"]));
    expect(await available(productId)).toEqual([0, 0, 0]);
    expect(await store.stock(productId)).toEqual({ allocated: 10, available: 0, held: 10, sold: 0 });
  });

  test("a buyer whose bucket is empty is served by the next one", async () => {
    const productId = await split();
    await store.allocation.allocate(productId, "one", 1);
    expect(await available(productId)).toEqual([1, 0, 0]);
    const outcome = await reserve(productId, buyerStartingAt(2));
    expect(outcome.ok).toBe(true);
    expect(await available(productId)).toEqual([0, 0, 0]);
  });

  test("a retry of an order served by a later bucket is not reserved again where units came back since", async () => {
    const productId = await split();
    await store.allocation.allocate(productId, "one", 1);
    const orderId = crypto.randomUUID();
    // Its buyer's own bucket has none: bucket 0 serves it.
    const buyer = buyerStartingAt(1);
    expect((await reserve(productId, buyer, orderId)).ok).toBe(true);
    // Units come to every bucket, then the same order comes again.
    await store.allocation.allocate(productId, "more", 3);
    expect(await available(productId)).toEqual([1, 1, 1]);
    expect(await reserve(productId, buyer, orderId)).toMatchObject({ ok: true, value: { orderId, replayed: true } });
    expect(await store.stock(productId)).toMatchObject({ allocated: 4, held: 1, available: 3 });
    // And the order is where it was: confirmed there, in its bucket.
    expect(await store.confirm(productId, orderId)).toMatchObject({ ok: true, value: { status: "confirmed" } });
    expect(await store.order(productId, orderId)).toMatchObject({ orderId, status: "confirmed", quantity: 1 });
    expect(await store.cancel(productId, crypto.randomUUID())).toMatchObject({ ok: false, code: "not_found" });
  });

  test("a release gathers from several buckets, once; one larger than what is available moves nothing", async () => {
    const productId = await split();
    await store.allocation.allocate(productId, "nine", 9);
    // A buyer takes one unit from one bucket, so the buckets differ.
    expect((await reserve(productId, buyerStartingAt(0))).ok).toBe(true);
    expect(await available(productId)).toEqual([2, 3, 3]);

    const released = await store.allocation.allocate(productId, "release-7", -7);
    expect(released).toMatchObject({ ok: true, value: { allocated: 2, available: 1, held: 1, replayed: false } });
    expect((await available(productId)).reduce((a, b) => a + b, 0)).toBe(1);
    expect(await store.allocation.allocate(productId, "release-7", -7)).toMatchObject({
      ok: true,
      value: { allocated: 2, available: 1, replayed: true },
    });
    expect(await store.allocation.change(productId, "release-7")).toBe(-7);

    const before = await available(productId);
    expect(await store.allocation.allocate(productId, "release-5", -5)).toEqual({
      ok: false,
      code: "insufficient_available",
    });
    expect(await available(productId)).toEqual(before);
    expect(await store.stock(productId)).toMatchObject({ allocated: 2, available: 1 });
    // Refused once, refused again: a second driver of the same transfer cannot make it succeed.
    await store.allocation.allocate(productId, "more", 10);
    expect(await store.allocation.allocate(productId, "release-5", -5)).toEqual({
      ok: false,
      code: "insufficient_available",
    });
  });

  test("every bucket is walked by the relay, the sweeper and the retention sweep", async () => {
    const productId = await split();
    expect((await store.buckets()).filter((b) => b.startsWith(productId)).sort()).toEqual([
      productId,
      `${productId}#1`,
      `${productId}#2`,
    ]);
  });

  test("a core that looked before another core activated the product split reserves a retried order once", async () => {
    const rules = saleRules("late", { buckets: 3 });
    const other = new RegionStore(redis, REGION, 100_000);
    const buyer = buyerStartingAt(2);
    const orderId = crypto.randomUUID();
    // This core is asked first, before the product is active here.
    expect(await reserve(rules.productId, buyer, orderId)).toEqual({ ok: false, code: "unknown_product" });
    await other.activate(rules);
    await other.allocation.allocate(rules.productId, "claim", 9);
    expect((await reserve(rules.productId, buyer, orderId)).ok).toBe(true);
    // The buyer's retry reaches the other core.
    expect(
      await other.reserve({ orderId, userId: buyer, productId: rules.productId, quantity: 1, originRegion: REGION }),
    ).toMatchObject({ ok: true, value: { replayed: true } });
    expect(await store.stock(rules.productId)).toMatchObject({ allocated: 9, available: 8, held: 1 });
  });
});
