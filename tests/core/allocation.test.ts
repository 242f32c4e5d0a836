/**
 * A region's allocation changes and rules, against a Redis of the test's own: a change past its
 * deadline applies nothing (so a late copy cannot apply twice once its id is forgotten), a
 * blocked release never applies (a split one gives back the parts a driver took), a core that
 * looked before another core split the product still spreads a claim over the buckets, and an
 * older load of the rules never overwrites newer ones.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { bucketChangeId, bucketsFrom } from "../../core/reservation/buckets.ts";
import { RegionStore } from "../../core/reservation/store.ts";
import { bucketId, productKeys } from "../../shared/keys.ts";
import { connectRedis, type Redis } from "../../shared/redis.ts";
import { ownRedis, saleRules } from "../support/helpers.ts";

const REGION = "test-allocation";

describe("allocation changes and rules in one region", () => {
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

  const active = async (buckets = 1) => {
    const rules = saleRules("alloc", { buckets });
    await store.activate(rules);
    return rules.productId;
  };
  const available = (productId: string, buckets: number) =>
    Promise.all(
      Array.from({ length: buckets }, async (_, b) =>
        Number(await redis.hget(productKeys(REGION, bucketId(productId, b)).product, "available")),
      ),
    );

  test("a change that runs past its deadline applies nothing; a copy of a forgotten claim cannot apply twice", async () => {
    const productId = await active();
    expect(await store.allocation.allocate(productId, "claim", 10, Date.now() + 30_000)).toMatchObject({
      ok: true,
      value: { allocated: 10, replayed: false },
    });
    // Past its deadline, a change that applied answers as before.
    expect(await store.allocation.allocate(productId, "claim", 10, Date.now() - 1)).toMatchObject({
      ok: true,
      value: { allocated: 10, replayed: true },
    });
    // The retention sweep forgets the id; a copy of the claim that waited in a stalled core runs.
    await store.retention.forgetChanges(productId, ["claim"]);
    expect(await store.allocation.allocate(productId, "claim", 10, Date.now() - 1)).toEqual({
      ok: false,
      code: "request_expired",
    });
    expect(await store.stock(productId)).toMatchObject({ allocated: 10, available: 10 });
    expect(await store.allocation.change(productId, "claim")).toBeUndefined();
  });

  test("a blocked release never applies; one that applied before the block stays applied", async () => {
    const productId = await active();
    await store.allocation.allocate(productId, "claim", 10);
    expect(await store.allocation.block(productId, "abandoned", -4)).toEqual({ ok: true, value: "refused" });
    expect(await store.allocation.allocate(productId, "abandoned", -4)).toEqual({
      ok: false,
      code: "insufficient_available",
    });
    await store.allocation.allocate(productId, "done", -3);
    expect(await store.allocation.block(productId, "done", -3)).toEqual({ ok: true, value: -3 });
    expect(await store.stock(productId)).toMatchObject({ allocated: 7, available: 7 });
  });

  test("split: blocking a release a driver left half gathered gives its parts back, once", async () => {
    const productId = await active(3);
    await store.allocation.allocate(productId, "claim", 9);
    // A driver took 2 from the change's first bucket, then died (what allocate.lua's up-to part does).
    const first = bucketsFrom("half", 3)[0]!;
    const keys = productKeys(REGION, bucketId(productId, first));
    await redis.hincrby(keys.product, "allocated", -2);
    await redis.hincrby(keys.product, "available", -2);
    await redis.hset(keys.allocationChanges, bucketChangeId("half", first), -2);
    expect(await store.allocation.block(productId, "half", -5)).toEqual({ ok: true, value: "refused" });
    expect(await store.allocation.block(productId, "half", -5)).toEqual({ ok: true, value: "refused" });
    expect(await available(productId, 3)).toEqual([3, 3, 3]);
    // A driver retrying the release meets the block and moves nothing.
    expect(await store.allocation.allocate(productId, "half", -5)).toEqual({
      ok: false,
      code: "insufficient_available",
    });
    expect(await store.stock(productId)).toMatchObject({ allocated: 9, available: 9 });
    // One gathered in full before the block is the release's, not undone.
    expect((await store.allocation.allocate(productId, "whole", -6)).ok).toBe(true);
    expect(await store.allocation.block(productId, "whole", -6)).toEqual({ ok: true, value: -6 });
    expect(await store.stock(productId)).toMatchObject({ allocated: 3, available: 3 });
  });

  test("a core that looked before another core activated the product split spreads a claim over its buckets", async () => {
    const rules = saleRules("late", { buckets: 3 });
    const other = new RegionStore(redis, REGION, 100_000);
    // This core asks first: nothing here yet.
    expect(await store.allocation.allocate(rules.productId, "early", 3)).toEqual({
      ok: false,
      code: "unknown_product",
    });
    await other.activate(rules);
    expect((await store.allocation.allocate(rules.productId, "claim", 9)).ok).toBe(true);
    expect(await available(rules.productId, 3)).toEqual([3, 3, 3]);
  });

  test("rules loaded out of order: the older load leaves the newer rules in place", async () => {
    const older = saleRules("rules", { paused: false, perUserLimit: 2, version: 1_000 });
    const newer = { ...older, paused: true, perUserLimit: 7, version: 1_001 };
    await store.activate(newer);
    await store.activate(older);
    expect(await store.saleTerms(older.productId)).toMatchObject({ paused: true, perUserLimit: 7 });
    await store.activate({ ...newer, paused: false, version: 1_002 });
    expect(await store.saleTerms(older.productId)).toMatchObject({ paused: false });
  });
});
