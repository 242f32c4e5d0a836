import { describe, expect, test } from "bun:test";
import {
  bucketChangeId,
  bucketIds,
  bucketsFrom,
  changeOfPart,
  spreadUnits,
} from "../../../core/reservation/buckets.ts";

describe("hot-product buckets", () => {
  test("each order tries every bucket once, from the one its buyer's id picks, the same on every core", () => {
    for (const user of ["alice", "bob", "carol", "dave"]) {
      const order = bucketsFrom(user, 5);
      expect([...order].sort()).toEqual([0, 1, 2, 3, 4]);
      expect(bucketsFrom(user, 5)).toEqual(order);
      // In turn from the first: the next bucket, then the next.
      expect(order.map((b, i) => (b - order[0]! + 5) % 5 === i)).toEqual([true, true, true, true, true]);
    }
    const firsts = new Set(Array.from({ length: 200 }, (_, i) => bucketsFrom(`buyer-${i}`, 3)[0]));
    expect(firsts).toEqual(new Set([0, 1, 2]));
  });

  test("units spread as evenly as whole units go, and add up", () => {
    expect(spreadUnits(10, 3)).toEqual([4, 3, 3]);
    expect(spreadUnits(1, 3)).toEqual([1, 0, 0]);
    expect(spreadUnits(9, 3)).toEqual([3, 3, 3]);
    for (const [units, buckets] of [
      [1_000_001, 7],
      [5, 16],
    ] as const) {
      const parts = spreadUnits(units, buckets);
      expect(parts.reduce((a, b) => a + b, 0)).toBe(units);
      expect(Math.max(...parts) - Math.min(...parts)).toBeLessThanOrEqual(1);
    }
  });

  test("bucket 0 is the product itself; a change's parts name their change", () => {
    expect(bucketIds("phone", 3)).toEqual(["phone", "phone#1", "phone#2"]);
    const change = "0b7c6a44-0d7e-4c1b-9e1a-6f0a8f3c2d11/release";
    expect(changeOfPart(bucketChangeId(change, 2))).toBe(change);
    expect(changeOfPart(bucketChangeId(change, 11, { undo: true }))).toBe(change);
    expect(changeOfPart(change)).toBe(change);
  });
});
