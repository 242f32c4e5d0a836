import { describe, expect, test } from "bun:test";
import { drifts, type ProductReading, type TransferReading } from "../../../cli/verify/drift.ts";

function reading(overrides: (p: ProductReading) => void = () => {}): ProductReading {
  const p: ProductReading = {
    productId: "phone",
    total: 100,
    regions: [
      {
        region: "us-east",
        allocation: 60,
        redis: { allocated: 60, available: 50, held: 6, sold: 4 },
        stored: { held: 6, sold: 4 },
      },
      {
        region: "eu-west",
        allocation: 30,
        redis: { allocated: 30, available: 30, held: 0, sold: 0 },
        stored: { held: 0, sold: 0 },
      },
    ],
  };
  overrides(p);
  return p;
}

describe("drifts", () => {
  test("a conserved product has none", () => {
    expect(drifts(reading())).toEqual([]);
  });

  test("each broken rule is named, with its region and numbers", () => {
    expect(drifts(reading((p) => (p.total = 80)))).toEqual([
      { productId: "phone", message: "regions are given 90 units but the product has 80" },
    ]);
    expect(drifts(reading((p) => (p.regions[0]!.redis!.available = 51)))).toEqual([
      { productId: "phone", region: "us-east", message: "available 51 + held 6 + sold 4 = 61, not the 60 allocated" },
    ]);
    expect(drifts(reading((p) => (p.regions[1]!.allocation = 35)))[0]!.message).toBe(
      "PostgreSQL gives it 35 units, its Redis 30",
    );
    expect(drifts(reading((p) => (p.regions[1]!.redis = undefined)))[0]!.message).toBe(
      "PostgreSQL gives it 30 units but its Redis does not have the product",
    );
    expect(drifts(reading((p) => (p.regions[0]!.stored.sold = 3)))[0]!.message).toBe(
      "Redis has held 6, sold 4; PostgreSQL's orders say held 6, sold 3",
    );
  });

  test("while events are still on their way, Redis and PostgreSQL may disagree on held and sold", () => {
    expect(
      drifts(
        reading((p) => (p.regions[0]!.stored.sold = 3)),
        false,
      ),
    ).toEqual([]);
  });
});

describe("drifts with transfers in flight", () => {
  const transfer = (overrides: Partial<TransferReading>): TransferReading => ({
    id: "t1",
    from: "us-east",
    to: "eu-west",
    units: 5,
    state: "pending",
    releasedInRedis: false,
    claimedInRedis: false,
    ...overrides,
  });
  const moving = (t: TransferReading, usEastRedis: number, euWestRedis: number, usEastPg = 60, euWestPg = 30) =>
    reading((p) => {
      p.transfers = [t];
      p.regions[0]!.allocation = usEastPg;
      p.regions[0]!.redis = { allocated: usEastRedis, available: usEastRedis - 10, held: 6, sold: 4 };
      p.regions[1]!.allocation = euWestPg;
      p.regions[1]!.redis = { allocated: euWestRedis, available: euWestRedis, held: 0, sold: 0 };
    });

  test("each step between Redis and PostgreSQL is accounted for, at every state of the ledger", () => {
    // Released in us-east's Redis, PostgreSQL not told yet.
    expect(drifts(moving(transfer({ releasedInRedis: true }), 55, 30))).toEqual([]);
    // Released in PostgreSQL too: the units are in transit.
    expect(drifts(moving(transfer({ state: "released", releasedInRedis: true }), 55, 30, 55))).toEqual([]);
    // Claimed in eu-west's Redis, PostgreSQL not told yet.
    expect(
      drifts(moving(transfer({ state: "released", releasedInRedis: true, claimedInRedis: true }), 55, 35, 55)),
    ).toEqual([]);
  });

  test("a Redis change the ledger cannot explain is named", () => {
    expect(drifts(moving(transfer({}), 55, 30))[0]!.message).toBe("PostgreSQL gives it 60 units, its Redis 55");
    expect(drifts(moving(transfer({ releasedInRedis: true }), 60, 30))[0]!.message).toBe(
      "PostgreSQL gives it 60 units (55 with the transfers in flight), its Redis 60",
    );
    expect(drifts(moving(transfer({ state: "failed", releasedInRedis: true }), 55, 30))[0]!.message).toBe(
      "transfer t1 failed, yet us-east's Redis gave up its 5 units",
    );
  });

  test("units in transit count against the total", () => {
    const p = moving(transfer({ state: "released", releasedInRedis: true }), 55, 30, 55);
    p.total = 89;
    expect(drifts(p)[0]!.message).toBe("regions are given 85 units and 5 are in transit but the product has 89");
  });
});
