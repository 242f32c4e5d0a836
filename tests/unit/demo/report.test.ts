import { describe, expect, test } from "bun:test";
import { progressLine, quantile } from "../../../demo/progress.ts";
import { integrity, regionsReport, type StoredOrder } from "../../../demo/report.ts";

const order = (
  id: string,
  region: string,
  originRegion: string,
  quantity: number,
  status = "confirmed",
): StoredOrder => ({ id, region, originRegion, quantity, status });

describe("the demo's report", () => {
  const stored = [
    order("a", "us-east", "us-east", 2),
    order("b", "us-east", "eu-west", 1),
    order("c", "eu-west", "eu-west", 2),
  ];

  test("sold units and spillovers per region come from the stored orders", () => {
    expect(regionsReport({ "us-east": 3, "eu-west": 2 }, stored)).toEqual({
      "us-east": { allocated: 3, sold: 3, spilledIn: 1 },
      "eu-west": { allocated: 2, sold: 2, spilledIn: 0 },
    });
  });

  test("oversold, lost and unexpected are what PostgreSQL says against what buyers were told", () => {
    const regions = regionsReport({ "us-east": 3, "eu-west": 2 }, stored);
    expect(integrity(5, regions, ["a", "b", "c"], stored)).toEqual({
      unitsSold: 5,
      oversold: 0,
      lost: 0,
      unexpected: 0,
      spillovers: 1,
    });
    expect(integrity(5, regions, ["a", "b", "c", "d"], stored).lost).toBe(1);
    expect(integrity(5, regions, ["a", "b"], stored).unexpected).toBe(1);
    // A region past its allocation is oversold even when the product's total is not reached.
    expect(integrity(10, regionsReport({ "us-east": 2, "eu-west": 8 }, stored), ["a", "b", "c"], stored).oversold).toBe(
      1,
    );
    expect(integrity(4, regions, ["a", "b", "c"], stored).oversold).toBe(1);
  });
});

describe("the demo's live line", () => {
  test("quantiles by nearest rank", () => {
    const values = Array.from({ length: 100 }, (_, i) => i + 1);
    expect([quantile(values, 0.5), quantile(values, 0.99), quantile(values, 1), quantile([], 0.5)]).toEqual([
      50,
      99,
      100,
      null,
    ]);
  });

  test("a bar and the counters", () => {
    const line = progressLine({
      buyersDone: 6,
      buyers: 24,
      requests: 7,
      accepted: 5,
      soldOut: 1,
      rateLimited: 1,
      failed: 0,
      p99Ms: 12.4,
    });
    expect(line).toBe(
      "██████░░░░░░░░░░░░░░░░░░ 6/24 buyers · 7 requests · 5 accepted · 1 sold out · 1 × 429 · 0 failed · p99 12 ms",
    );
  });
});
