/** Confirm, cancel and expiry on real Redis: units go back exactly once, whoever races. */
import { afterAll, describe, expect, test } from "bun:test";
import { RegionStore } from "../../core/reservation/store.ts";
import { startSweeper } from "../../core/sweeper/sweeper.ts";
import { orderEventSchema, type OrderEvent } from "../../shared/events.ts";
import { productKeys } from "../../shared/keys.ts";
import { connectRedis } from "../../shared/redis.ts";
import { config, saleRules } from "../support/helpers.ts";

// A region id of its own: no core relays these outboxes.
const REGION = "test-lifecycle";
const redis = connectRedis(config.regions[0]!.redisUrl);
afterAll(() => redis.disconnect());

async function sale(units: number, holdSeconds: number) {
  const rules = saleRules("life", { holdSeconds });
  const store = new RegionStore(redis, REGION, 100_000);
  await store.activate(rules);
  await store.allocation.allocate(rules.productId, "initial", units);
  const reserve = async (userId: string, quantity: number) => {
    const orderId = crypto.randomUUID();
    const outcome = await store.reserve({
      orderId,
      userId,
      productId: rules.productId,
      quantity,
      originRegion: REGION,
    });
    if (!outcome.ok) throw new Error(outcome.code);
    return orderId;
  };
  const events = async (): Promise<OrderEvent[]> =>
    (await redis.xrange(productKeys(REGION, rules.productId).outbox, "-", "+")).map(([, f]) =>
      orderEventSchema.parse(JSON.parse(f[f.indexOf("event") + 1]!)),
    );
  return { store, productId: rules.productId, reserve, events };
}

describe("confirm", () => {
  test("moves units from held to sold", async () => {
    const { store, productId, reserve, events } = await sale(10, 600);
    const orderId = await reserve("ann", 3);
    expect(await store.confirm(productId, orderId)).toMatchObject({ ok: true, value: { status: "confirmed" } });
    expect(await store.stock(productId)).toEqual({ allocated: 10, available: 7, held: 0, sold: 3 });
    expect((await events()).map((e) => e.type)).toEqual(["reserved", "confirmed"]);
  });

  test("after the hold ran out, expires the order instead and returns its units", async () => {
    const { store, productId, reserve } = await sale(10, 1);
    const orderId = await reserve("ann", 2);
    await Bun.sleep(1_050);
    expect(await store.confirm(productId, orderId)).toEqual({ ok: false, code: "hold_expired", status: "expired" });
    expect(await store.stock(productId)).toEqual({ allocated: 10, available: 10, held: 0, sold: 0 });
  });
});

describe("cancel", () => {
  test("returns the units and the user's allowance exactly once", async () => {
    const { store, productId, reserve, events } = await sale(10, 600);
    const orderId = await reserve("bea", 4);
    const answers = await Promise.all(Array.from({ length: 20 }, () => store.cancel(productId, orderId)));
    expect(answers.every((a) => a.ok && a.value.status === "cancelled")).toBe(true);
    expect(await store.stock(productId)).toEqual({ allocated: 10, available: 10, held: 0, sold: 0 });
    expect(await redis.hget(productKeys(REGION, productId).users, "bea")).toBeNull();
    expect((await events()).map((e) => e.type)).toEqual(["reserved", "cancelled"]);
  });

  test("a confirmed order cannot be cancelled", async () => {
    const { store, productId, reserve } = await sale(10, 600);
    const orderId = await reserve("cat", 1);
    await store.confirm(productId, orderId);
    expect(await store.cancel(productId, orderId)).toEqual({
      ok: false,
      code: "order_not_reserved",
      status: "confirmed",
    });
  });
});

describe("expiry", () => {
  test("two sweepers side by side expire each hold once", async () => {
    const { store, productId, reserve, events } = await sale(100, 1);
    const ids = await Promise.all(Array.from({ length: 40 }, (_, i) => reserve(`user-${i}`, 1 + (i % 2))));
    expect(await store.stock(productId)).toMatchObject({ available: 40, held: 60 });
    await Bun.sleep(1_050);

    const first = startSweeper(store, 10_000);
    const second = startSweeper(store, 10_000);
    const [a, b] = await Promise.all([first.sweep(), second.sweep()]);
    await Promise.all([first.stop(), second.stop()]);

    expect(a + b).toBeGreaterThanOrEqual(ids.length);
    expect(await store.stock(productId)).toEqual({ allocated: 100, available: 100, held: 0, sold: 0 });
    const expired = (await events()).filter((e) => e.type === "expired");
    expect(expired.map((e) => e.orderId).sort()).toEqual([...ids].sort());
  });

  test("a cancel racing an expiry returns the units once: each order ends cancelled or expired, and both win sometimes", async () => {
    const outcomes = new Set<string>();
    // Each round lands the cancels and sweeps around the moment the holds run out; rounds go on
    // (at most 5) until both a cancel and a sweeper have won at least once.
    for (let round = 0; round < 5 && outcomes.size < 2; round++) {
      const { store, productId, reserve, events } = await sale(200, 1);
      const ids = await Promise.all(Array.from({ length: 60 }, (_, i) => reserve(`racer-${i}`, 2)));
      await Bun.sleep(990);
      const sweepers = [startSweeper(store, 5), startSweeper(store, 5)];
      const cancels = await Promise.all(
        ids.map(async (id, i) => {
          await Bun.sleep(i % 20);
          return store.cancel(productId, id);
        }),
      );
      await Bun.sleep(100);
      await Promise.all(sweepers.map((s) => s.stop()));
      await Promise.all(sweepers.map((s) => s.sweep()));

      expect(await store.stock(productId)).toEqual({ allocated: 200, available: 200, held: 0, sold: 0 });
      const finals = (await events()).filter((e) => e.type !== "reserved");
      expect(finals).toHaveLength(ids.length);
      expect(new Set(finals.map((e) => e.orderId)).size).toBe(ids.length);
      for (const [i, id] of ids.entries()) {
        const final = finals.find((e) => e.orderId === id)!;
        const answer = cancels[i]!;
        // The cancel's answer says who won: cancelled, or already expired.
        expect(answer.ok ? "cancelled" : answer.status).toBe(final.type);
        outcomes.add(final.type);
      }
    }
    expect([...outcomes].sort()).toEqual(["cancelled", "expired"]);
  }, 20_000);
});
