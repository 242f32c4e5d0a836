import { describe, expect, test } from "bun:test";
import type { OrderEvent } from "../../../shared/events.ts";
import type { IncomingMessage } from "../../../shared/kafka.ts";
import { rendezvousHome } from "../../../shared/home-region.ts";
import { planFeed, planReleases } from "../../../worker/allowance.ts";
import { decode, isDataError, plan } from "../../../worker/plan.ts";

const orderId = "6f1c2a52-7d43-4a8e-9d55-4c7a4f0f8f10";
function event(overrides: Partial<OrderEvent> = {}): OrderEvent {
  return {
    v: 1,
    type: "reserved",
    orderId,
    productId: "phone",
    region: "us-east",
    originRegion: "eu-west",
    userId: "u1",
    quantity: 2,
    reservedAt: 1_000,
    expiresAt: 601_000,
    at: 1_000,
    ...overrides,
  };
}
const message = (value: string | null): IncomingMessage => ({
  topic: "t",
  partition: 0,
  offset: "7",
  key: orderId,
  value,
  headers: {},
});

describe("decode", () => {
  test("keeps order events and sets aside what is not one, with the reason", () => {
    const { events, poison } = decode([
      message(JSON.stringify(event())),
      message("{oops"),
      message(JSON.stringify({ ...event(), quantity: 0 })),
      message(null),
    ]);
    expect(events.map((e) => e.event)).toEqual([event()]);
    expect(poison.map((p) => p.reason)).toEqual([
      "value is not JSON",
      expect.stringContaining("quantity"),
      "value is not JSON",
    ]);
  });
});

describe("decode: ids and times", () => {
  test("an order id in upper case reads as the same order in lower case", () => {
    const { events } = decode([message(JSON.stringify(event({ orderId: orderId.toUpperCase() })))]);
    expect(events[0]!.event.orderId).toBe(orderId);
  });

  test("a time no Date can hold is set aside, not left to fail the batch's write", () => {
    const { events, poison } = decode([
      message(JSON.stringify(event({ at: 8.64e15 + 1 }))),
      message(JSON.stringify(event({ reservedAt: -8.64e15 - 1 }))),
      message(JSON.stringify(event({ expiresAt: 253_402_300_800_000 }))),
    ]);
    expect(events).toEqual([]);
    expect(poison.map((p) => p.reason)).toEqual([
      expect.stringContaining("at"),
      expect.stringContaining("reservedAt"),
      expect.stringContaining("expiresAt"),
    ]);
  });
  test("text PostgreSQL would refuse or could not index is set aside, as the core would refuse it", () => {
    const { events, poison } = decode([
      message(JSON.stringify(event({ productId: "phone\u0000" }))),
      message(JSON.stringify(event({ userId: "u".repeat(10_000) }))),
      message(JSON.stringify(event({ region: "r".repeat(33) }))),
      message(JSON.stringify(event({ userId: "u\u0000" }))),
    ]);
    expect(events).toEqual([]);
    expect(poison.map((p) => p.reason)).toEqual([
      expect.stringContaining("productId"),
      expect.stringContaining("userId"),
      expect.stringContaining("region"),
      expect.stringContaining("NUL"),
    ]);
  });
});

describe("plan", () => {
  test("one row per order at its furthest status, one event row per (order, status)", () => {
    const rows = plan([event(), event({ type: "confirmed", at: 5_000 }), event({ at: 9_000 })]);
    expect(rows.orders).toHaveLength(1);
    expect(rows.orders[0]).toMatchObject({
      id: orderId,
      status: "confirmed",
      updatedAt: new Date(5_000),
      originRegion: "eu-west",
    });
    expect(rows.events.map((e) => e.type)).toEqual(["reserved", "confirmed"]);
  });

  test("a late 'reserved' never moves a final status back", () => {
    const rows = plan([event({ type: "expired", at: 700_000 }), event()]);
    expect(rows.orders[0]!.status).toBe("expired");
  });

  test("a sale without a hold has no expiry", () => {
    expect(plan([event({ type: "confirmed", expiresAt: null })]).orders[0]!.expiresAt).toBeNull();
  });
});

describe("the buyer's home", () => {
  const regions = ["us-east", "eu-west"];
  test("an event names it and its row keeps it; an older event without it decodes, its row's home unknown", () => {
    expect(plan([event({ homeRegion: "eu-west" })]).orders[0]!.homeRegion).toBe("eu-west");
    const { events, poison } = decode([message(JSON.stringify(event()))]);
    expect(poison).toEqual([]);
    expect(plan(events.map((e) => e.event)).orders[0]!.homeRegion).toBeNull();
  });

  test("an ended order's allowance goes back to the home its event names, else to the hash's", () => {
    const hashed = rendezvousHome("u1", regions);
    const claimed = regions.find((r) => r !== hashed)!;
    const expired = (homeRegion?: string) => message(JSON.stringify(event({ type: "expired", homeRegion })));
    expect(planReleases([expired(claimed)], claimed, regions)).toHaveLength(1);
    expect(planReleases([expired(claimed)], hashed, regions)).toEqual([]);
    expect(planReleases([expired()], hashed, regions)).toHaveLength(1);
  });
});

describe("planFeed", () => {
  const regions = ["us-east", "eu-west"];
  test("sends each home's allowance topic only its buyers' expiries and cancels, as read", () => {
    const hashed = rendezvousHome("u1", regions);
    const claimed = regions.find((r) => r !== hashed)!;
    const batch = [
      message(JSON.stringify(event({ type: "reserved", homeRegion: claimed }))),
      message(JSON.stringify(event({ type: "confirmed", homeRegion: claimed }))),
      message(JSON.stringify(event({ type: "expired", homeRegion: claimed }))),
      message(JSON.stringify(event({ type: "cancelled" }))),
      message(JSON.stringify(event({ type: "expired", homeRegion: "gone-region" }))),
      message("not json"),
    ];
    const feed = planFeed(decode(batch), regions);
    expect([...feed.keys()].sort()).toEqual([`flux-gate.allowance.${claimed}`, `flux-gate.allowance.${hashed}`].sort());
    expect(feed.get(`flux-gate.allowance.${claimed}`)).toEqual([{ key: orderId, value: batch[2]!.value! }]);
    // No home in the event: the hash's.
    expect(feed.get(`flux-gate.allowance.${hashed}`)).toEqual([{ key: orderId, value: batch[3]!.value! }]);
    // What it feeds, the home's consumer gives back.
    const fed = feed.get(`flux-gate.allowance.${claimed}`)!.map((m) => ({ ...message(m.value), key: m.key }));
    expect(planReleases(fed, claimed, regions)).toHaveLength(1);
  });

  test("a batch of orders that sold feeds nothing", () => {
    const sold = [message(JSON.stringify(event())), message(JSON.stringify(event({ type: "confirmed" })))];
    expect(planFeed(decode(sold), regions).size).toBe(0);
  });
});

describe("isDataError", () => {
  test("tells a refused row from a failed database, through Drizzle's wrapping", () => {
    expect(isDataError({ message: "Failed query", cause: { code: "23514" } })).toBe(true);
    expect(isDataError({ code: "22P02" })).toBe(true);
    expect(isDataError({ code: "ECONNREFUSED" })).toBe(false);
    expect(isDataError({ cause: { code: "57P01" } })).toBe(false);
    expect(isDataError(new Error("timeout"))).toBe(false);
  });
});
