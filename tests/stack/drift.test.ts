import { describe, expect, test } from "bun:test";
import { drifts, type ProductReading } from "../../stack/verify/drift.ts";

function reading(overrides: (p: ProductReading) => void = () => {}): ProductReading {
  const p: ProductReading = {
    productId: "phone",
    total: 100,
    regions: [
      { region: "us-east", allocation: 60, redis: { allocated: 60, available: 50, held: 6, sold: 4 }, stored: { held: 6, sold: 4 } },
      { region: "eu-west", allocation: 30, redis: { allocated: 30, available: 30, held: 0, sold: 0 }, stored: { held: 0, sold: 0 } },
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
    expect(drifts(reading((p) => (p.total = 80)))).toEqual([{ productId: "phone", message: "regions are given 90 units but the product has 80" }]);
    expect(drifts(reading((p) => (p.regions[0]!.redis!.available = 51)))).toEqual([
      { productId: "phone", region: "us-east", message: "available 51 + held 6 + sold 4 = 61, not the 60 allocated" },
    ]);
    expect(drifts(reading((p) => (p.regions[1]!.allocation = 35)))[0]!.message).toBe("PostgreSQL gives it 35 units, its Redis 30");
    expect(drifts(reading((p) => (p.regions[1]!.redis = undefined)))[0]!.message).toBe("PostgreSQL gives it 30 units but its Redis does not have the product");
    expect(drifts(reading((p) => (p.regions[0]!.stored.sold = 3)))[0]!.message).toBe("Redis has held 6, sold 4; PostgreSQL's orders say held 6, sold 3");
  });

  test("while events are still on their way, Redis and PostgreSQL may disagree on held and sold", () => {
    expect(drifts(reading((p) => (p.regions[0]!.stored.sold = 3)), false)).toEqual([]);
  });
});
