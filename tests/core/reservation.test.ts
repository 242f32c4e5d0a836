/** The Lua reservation against real Redis: every outcome code, idempotency, counters. */
import { afterAll, describe, expect, test } from "bun:test";
import { RegionStore } from "../../core/reservation/store.ts";
import type { SaleRules } from "../../core/reservation/types.ts";
import { orderEventSchema } from "../../shared/events.ts";
import { outboxPendingKey, productKeys } from "../../shared/keys.ts";
import { connectRedis } from "../../shared/redis.ts";
import { config, saleRules, uniqueName } from "../support/helpers.ts";

// A region id of its own: no core relays these outboxes, so nothing reaches Kafka.
const region = { ...config.regions[0]!, id: "test-lua" };
const redis = connectRedis(region.redisUrl);
afterAll(() => redis.disconnect());

const rules = (overrides: Partial<SaleRules> = {}) =>
  saleRules("lua", { perUserLimit: 3, maxPerOrder: 2, ...overrides });

async function activeProduct(units: number, overrides: Partial<SaleRules> = {}, outboxLimit = 1_000) {
  const sale = rules(overrides);
  const store = new RegionStore(redis, region.id, outboxLimit);
  await store.activate(sale);
  expect(await store.allocation.allocate(sale.productId, "initial", units)).toMatchObject({ ok: true });
  const reserve = (userId: string, quantity = 1, orderId: string = crypto.randomUUID()) =>
    store.reserve({ orderId, userId, productId: sale.productId, quantity, originRegion: region.id });
  return { store, sale, reserve };
}

describe("reserve", () => {
  test("takes units, records the hold and writes one outbox event", async () => {
    const { store, sale, reserve } = await activeProduct(10);
    const result = await reserve("alice", 2);
    expect(result).toMatchObject({ ok: true, value: { status: "reserved", replayed: false } });
    expect(await store.stock(sale.productId)).toEqual({ allocated: 10, available: 8, held: 2, sold: 0 });

    const entries = await redis.xrange(productKeys(region.id, sale.productId).outbox, "-", "+");
    expect(entries).toHaveLength(1);
    const fields = entries[0]![1];
    const event = orderEventSchema.parse(JSON.parse(fields[fields.indexOf("event") + 1]!));
    expect(event).toMatchObject({
      type: "reserved",
      userId: "alice",
      quantity: 2,
      productId: sale.productId,
      region: region.id,
    });
    expect(event.expiresAt! - event.reservedAt).toBe(600_000);
  });

  test("is idempotent by order id: the same id returns the first outcome and changes nothing", async () => {
    const { store, sale, reserve } = await activeProduct(10);
    const orderId = crypto.randomUUID();
    const first = await reserve("bob", 2, orderId);
    const again = await reserve("bob", 1, orderId);
    expect(again).toEqual({ ok: true, value: { ...(first.ok ? first.value : {}), replayed: true } as never });
    expect(await store.stock(sale.productId)).toMatchObject({ available: 8, held: 2 });
    expect(await redis.xlen(productKeys(region.id, sale.productId).outbox)).toBe(1);
  });

  test("a request that runs past its deadline reserves nothing; a known order id still gets its first outcome", async () => {
    const { store, sale } = await activeProduct(10);
    const late = {
      userId: "fay",
      productId: sale.productId,
      quantity: 1,
      originRegion: region.id,
      notAfter: Date.now() - 1_000,
    };
    expect(await store.reserve({ ...late, orderId: crypto.randomUUID() })).toEqual({
      ok: false,
      code: "request_expired",
    });
    expect(await store.stock(sale.productId)).toMatchObject({ available: 10, held: 0 });
    const orderId = crypto.randomUUID();
    const first = await store.reserve({ ...late, orderId, notAfter: Date.now() + 30_000 });
    expect(first).toMatchObject({ ok: true, value: { replayed: false, originRegion: region.id } });
    expect(await store.reserve({ ...late, orderId })).toMatchObject({ ok: true, value: { replayed: true } });
  });

  test("an order written to an empty outbox notes its product for the relay; later confirms and cancels note it again", async () => {
    const { store, sale, reserve } = await activeProduct(10);
    const pending = outboxPendingKey(region.id);
    await redis.zrem(pending, sale.productId);
    const first = await reserve("nora");
    expect(await redis.zscore(pending, sale.productId)).not.toBeNull();
    // The relay took the note; the outbox is not empty, so the next order needs none.
    await redis.zrem(pending, sale.productId);
    await reserve("nora");
    expect(await redis.zscore(pending, sale.productId)).toBeNull();
    await store.confirm(sale.productId, first.ok ? first.value.orderId : "");
    expect(await redis.zscore(pending, sale.productId)).not.toBeNull();
  });

  test("a product with hold time 0 sells at once", async () => {
    const { store, sale, reserve } = await activeProduct(5, { holdSeconds: 0 });
    expect(await reserve("carol")).toMatchObject({ ok: true, value: { status: "confirmed", expiresAt: null } });
    expect(await store.stock(sale.productId)).toEqual({ allocated: 5, available: 4, held: 0, sold: 1 });
  });

  test.each([
    [
      "unknown_product",
      async () =>
        new RegionStore(redis, region.id, 10).reserve({
          orderId: crypto.randomUUID(),
          userId: "u",
          productId: uniqueName("none"),
          quantity: 1,
          originRegion: region.id,
        }),
    ],
    [
      "sale_not_started",
      async () => (await activeProduct(5, { startsAt: new Date(Date.now() + 60_000) })).reserve("u"),
    ],
    [
      "sale_ended",
      async () =>
        (
          await activeProduct(5, { startsAt: new Date(Date.now() - 120_000), endsAt: new Date(Date.now() - 60_000) })
        ).reserve("u"),
    ],
    ["sale_paused", async () => (await activeProduct(5, { paused: true })).reserve("u")],
    ["invalid_quantity", async () => (await activeProduct(5)).reserve("u", 0)],
    ["invalid_quantity", async () => (await activeProduct(5)).reserve("u", -1)],
    ["invalid_quantity", async () => (await activeProduct(5)).reserve("u", 3)],
    ["sold_out", async () => (await activeProduct(0)).reserve("u")],
    ["insufficient_stock", async () => (await activeProduct(1)).reserve("u", 2)],
  ] as const)("refuses with %s", async (code, attempt) => {
    expect(await attempt()).toEqual({ ok: false, code });
  });

  test("refuses with user_limit_exceeded once the user's units would pass the limit", async () => {
    const { reserve } = await activeProduct(10, { perUserLimit: 3 });
    expect((await reserve("dave", 2)).ok).toBe(true);
    expect(await reserve("dave", 2)).toEqual({ ok: false, code: "user_limit_exceeded" });
    expect((await reserve("dave", 1)).ok).toBe(true);
    expect((await reserve("erin", 2)).ok).toBe(true);
  });

  test("refuses with overloaded when the outbox is full, and writes nothing", async () => {
    const { store, sale, reserve } = await activeProduct(10, {}, 2);
    expect((await reserve("u1")).ok).toBe(true);
    expect((await reserve("u2")).ok).toBe(true);
    expect(await reserve("u3")).toEqual({ ok: false, code: "overloaded" });
    expect(await store.stock(sale.productId)).toMatchObject({ available: 8, held: 2 });
  });

  test("a refusal writes nothing", async () => {
    const { store, sale, reserve } = await activeProduct(1);
    await reserve("u", 2);
    expect(await store.stock(sale.productId)).toEqual({ allocated: 1, available: 1, held: 0, sold: 0 });
    expect(await redis.xlen(productKeys(region.id, sale.productId).outbox)).toBe(0);
  });
});

test("runs again after Redis forgot its scripts (EVALSHA falls back on NOSCRIPT)", async () => {
  const { store, sale, reserve } = await activeProduct(5);
  await redis.script("FLUSH");
  expect((await reserve("after-flush")).ok).toBe(true);
  expect(await store.stock(sale.productId)).toMatchObject({ available: 4, held: 1 });
});

describe("allocate", () => {
  test("a change applies once per change id; a retry answers as the first call did", async () => {
    const { store, sale } = await activeProduct(5);
    expect(await store.allocation.allocate(sale.productId, "more", 3)).toEqual({
      ok: true,
      value: { allocated: 8, available: 8, held: 0, sold: 0, replayed: false },
    });
    expect(await store.allocation.allocate(sale.productId, "more", 3)).toEqual({
      ok: true,
      value: { allocated: 8, available: 8, held: 0, sold: 0, replayed: true },
    });
    expect(await store.allocation.change(sale.productId, "more")).toBe(3);
    expect(await store.allocation.change(sale.productId, "never-sent")).toBeUndefined();
  });

  test("gives back available units only, never held ones, and remembers a refusal", async () => {
    const { store, sale, reserve } = await activeProduct(5);
    await reserve("u", 2);
    expect(await store.allocation.allocate(sale.productId, "too-many", -4)).toEqual({
      ok: false,
      code: "insufficient_available",
    });
    expect(await store.allocation.change(sale.productId, "too-many")).toBe("refused");
    await store.cancel(sale.productId, (await redis.zrange(productKeys(region.id, sale.productId).holds, 0, 0))[0]!);
    // Units are free now, yet the refused change stays refused: a second driver of the same
    // transfer must not see it succeed after the first recorded it as failed.
    expect(await store.allocation.allocate(sale.productId, "too-many", -4)).toEqual({
      ok: false,
      code: "insufficient_available",
    });
    expect(await store.allocation.allocate(sale.productId, "fits", -3)).toEqual({
      ok: true,
      value: { allocated: 2, available: 2, held: 0, sold: 0, replayed: false },
    });
  });

  test("refuses a product the region has not activated", async () => {
    const store = new RegionStore(redis, region.id, 1_000);
    expect(await store.allocation.allocate(uniqueName("absent"), "c", 5)).toEqual({
      ok: false,
      code: "unknown_product",
    });
  });

  test("activating again refreshes the rules and keeps every counter", async () => {
    const { store, sale, reserve } = await activeProduct(5);
    await reserve("u", 2);
    expect(await store.activate({ ...sale, paused: true })).toEqual({ allocated: 5, available: 3, held: 2, sold: 0 });
    expect((await store.saleTerms(sale.productId))?.paused).toBe(true);
  });
});
