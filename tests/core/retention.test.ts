/**
 * Forgetting ended orders against real Redis (the store's side of the retention sweep; what
 * PostgreSQL holds is given here, tests/pipeline/retention.test.ts runs it with the worker):
 * only ended orders whose stored status matches leave, each leaves a tombstone, and a late
 * retry of a forgotten order gets its outcome and reserves nothing.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { RegionStore } from "../../core/reservation/store.ts";
import type { SaleRules } from "../../core/reservation/types.ts";
import { IDEMPOTENCY_WINDOW_MS } from "../../shared/config.ts";
import { orderKey, productKeys } from "../../shared/keys.ts";
import { connectRedis } from "../../shared/redis.ts";
import { config, saleRules } from "../support/helpers.ts";

// A region id of its own: no core relays these outboxes or sweeps these orders.
const region = { ...config.regions[0]!, id: "test-retention" };
const redis = connectRedis(region.redisUrl);
afterAll(() => redis.disconnect());

async function activeProduct(units: number, overrides: Partial<SaleRules> = {}) {
  const sale = saleRules("ret", overrides);
  const store = new RegionStore(redis, region.id, 100_000);
  await store.activate(sale);
  expect(await store.allocation.allocate(sale.productId, "initial", units)).toMatchObject({ ok: true });
  const reserve = (userId: string, orderId: string = crypto.randomUUID(), quantity = 1) =>
    store.reserve({ orderId, userId, productId: sale.productId, quantity, originRegion: region.id });
  return { store, productId: sale.productId, reserve };
}

const uuidOf = (hex: string) =>
  `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
const randomHex = (digits: number) => crypto.randomUUID().replaceAll("-", "").slice(0, digits);

/** A UUID whose hex digits start with `prefix`: ids that share a tombstone string. */
const uuidStartingWith = (prefix: string) => uuidOf(prefix + randomHex(32 - prefix.length));

describe("forgetting ended orders", () => {
  test("only ended orders whose status PostgreSQL holds leave; live ones and ones it holds an older status of stay", async () => {
    const { store, productId, reserve } = await activeProduct(10);
    const [live, confirmed, lagging, cancelled] = await Promise.all(
      ["a", "b", "c", "d"].map(async (user) => {
        const orderId = crypto.randomUUID();
        expect(await reserve(user, orderId)).toMatchObject({ ok: true });
        return orderId;
      }),
    );
    await store.confirm(productId, confirmed!);
    await store.confirm(productId, lagging!);
    await store.cancel(productId, cancelled!);

    expect((await store.retention.endedBefore(productId, Date.now() + 1_000, 100)).sort()).toEqual(
      [confirmed!, lagging!, cancelled!].sort(),
    );
    const forgotten = await store.retention.forget(productId, [
      { orderId: live!, status: "reserved" },
      { orderId: confirmed!, status: "confirmed" },
      { orderId: lagging!, status: "reserved" }, // the worker has not stored the confirmation yet
      { orderId: cancelled!, status: "cancelled" },
    ]);
    expect(forgotten.sort()).toEqual([confirmed!, cancelled!].sort());
    for (const id of [confirmed!, cancelled!]) expect(await redis.exists(orderKey(region.id, productId, id))).toBe(0);
    for (const id of [live!, lagging!]) expect(await redis.exists(orderKey(region.id, productId, id))).toBe(1);
    expect(await store.retention.endedBefore(productId, Date.now() + 1_000, 100)).toEqual([lagging!]);
    expect(await store.stock(productId)).toEqual({ allocated: 10, available: 7, held: 1, sold: 2 });
  });

  test("a late retry of a forgotten order gets its outcome and reserves nothing; confirm and cancel answer from the tombstone", async () => {
    const { store, productId, reserve } = await activeProduct(10);
    const confirmed = crypto.randomUUID();
    const cancelled = crypto.randomUUID();
    await reserve("erin", confirmed, 2);
    await reserve("erin", cancelled, 3);
    await store.confirm(productId, confirmed);
    await store.cancel(productId, cancelled);
    await store.retention.forget(productId, [
      { orderId: confirmed, status: "confirmed" },
      { orderId: cancelled, status: "cancelled" },
    ]);
    const before = await store.stock(productId);
    const outbox = await redis.xlen(productKeys(region.id, productId).outbox);

    expect(await reserve("erin", confirmed, 2)).toEqual({
      ok: true,
      value: { orderId: confirmed, status: "confirmed", expiresAt: null, replayed: true, originRegion: "" },
    });
    expect(await reserve("erin", cancelled, 3)).toMatchObject({
      ok: true,
      value: { status: "cancelled", replayed: true },
    });
    // In upper case it is the same order (PostgreSQL's uuid), and its tombstone answers.
    expect(await reserve("erin", confirmed.toUpperCase(), 2)).toMatchObject({
      ok: true,
      value: { status: "confirmed", replayed: true },
    });
    expect(await store.confirm(productId, confirmed)).toMatchObject({ ok: true, value: { status: "confirmed" } });
    expect(await store.cancel(productId, confirmed)).toEqual({
      ok: false,
      code: "order_not_reserved",
      status: "confirmed",
    });
    expect(await store.cancel(productId, cancelled)).toMatchObject({ ok: true, value: { status: "cancelled" } });
    expect(await store.stock(productId)).toEqual(before);
    expect(await redis.xlen(productKeys(region.id, productId).outbox)).toBe(outbox);
  });

  test("many orders in one tombstone string are each found with their own outcome; a new id beside them reserves", async () => {
    const { store, productId, reserve } = await activeProduct(100, { holdSeconds: 0 });
    const ids = Array.from({ length: 40 }, () => uuidStartingWith("abc"));
    for (const [i, id] of ids.entries()) await reserve(`u${i}`, id);
    expect(
      await store.retention.forget(
        productId,
        ids.map((orderId) => ({ orderId, status: "confirmed" })),
      ),
    ).toHaveLength(40);
    const generation = Math.floor(Date.now() / IDEMPOTENCY_WINDOW_MS);
    const shard = `${productKeys(region.id, productId).tombstonePrefix}${generation}:abc`;
    expect(await redis.strlen(shard)).toBe(40 * 17);
    // It lasts at least the idempotency window from now.
    expect(await redis.pttl(shard)).toBeGreaterThan(IDEMPOTENCY_WINDOW_MS - 60_000);

    for (const id of ids)
      expect(await reserve("someone", id)).toMatchObject({ ok: true, value: { status: "confirmed", replayed: true } });
    const fresh = uuidStartingWith("abc");
    expect(await reserve("newcomer", fresh)).toMatchObject({
      ok: true,
      value: { status: "confirmed", replayed: false },
    });
    expect(await store.stock(productId)).toMatchObject({ available: 59, sold: 41 });
  });

  test("an id whose bytes straddle two records is not taken for a forgotten order", async () => {
    const { store, productId, reserve } = await activeProduct(10, { holdSeconds: 0 });
    // Records A and B side by side: A's last 4 bytes, A's outcome letter ("C" = 0x43) and B's
    // first 11 bytes spell X, and B's 12th byte is a "C" where X's outcome would be.
    const a = `abc${randomHex(21)}abcd0102`;
    const b = `abcd${randomHex(18)}43${randomHex(8)}`;
    const x = `abcd010243${b.slice(0, 22)}`;
    for (const id of [a, b]) await reserve("hal", uuidOf(id));
    await store.retention.forget(
      productId,
      [a, b].map((id) => ({ orderId: uuidOf(id), status: "confirmed" as const })),
    );
    expect(await reserve("hal", uuidOf(b))).toMatchObject({ ok: true, value: { replayed: true } });
    expect(await reserve("ivy", uuidOf(x))).toMatchObject({
      ok: true,
      value: { status: "confirmed", replayed: false },
    });
    expect(await store.stock(productId)).toMatchObject({ sold: 3 });
  });

  test("a tombstone from the previous generation still answers", async () => {
    const { store, productId, reserve } = await activeProduct(10, { holdSeconds: 0 });
    const orderId = uuidStartingWith("f00");
    await reserve("gus", orderId);
    await store.retention.forget(productId, [{ orderId, status: "confirmed" }]);
    const generation = Math.floor(Date.now() / IDEMPOTENCY_WINDOW_MS);
    const prefix = productKeys(region.id, productId).tombstonePrefix;
    await redis.rename(`${prefix}${generation}:f00`, `${prefix}${generation - 1}:f00`);
    expect(await reserve("gus", orderId)).toMatchObject({ ok: true, value: { status: "confirmed", replayed: true } });
    await redis.rename(`${prefix}${generation - 1}:f00`, `${prefix}${generation - 2}:f00`);
    // Two generations back it is gone: the id is new again (a retry that late is past every window).
    expect(await reserve("gus", orderId)).toMatchObject({ ok: true, value: { replayed: false } });
    expect(await store.stock(productId)).toMatchObject({ sold: 2 });
  });
});
