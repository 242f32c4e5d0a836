import { describe, expect, test } from "bun:test";
import { progressLine, quantile } from "../../../demo/progress.ts";
import type { BuyerEnd } from "../../../demo/crowd.ts";
import {
  buyerRows,
  type DemoReport,
  formatReport,
  integrity,
  regionsReport,
  type StoredOrder,
} from "../../../demo/report.ts";

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

describe("the demo's buyer rows", () => {
  const times = (n: number, end: BuyerEnd) => Array.from({ length: n }, () => end);
  // The crowd run of issue #24 (300 accepted, 690 told in the queue, 10 whose admitted order
  // found the last units gone), and one of every other way a try can end.
  const ends: BuyerEnd[] = [
    ...times(300, { status: 202 }),
    ...times(690, { status: 200, state: "sold_out" }),
    ...times(10, { status: 409, code: "sold_out", admitted: true }),
    { status: 409, code: "sold_out" },
    { status: 409, code: "insufficient_stock" },
    { status: 409, code: "user_limit_exceeded" },
    { status: 503, code: "overloaded" },
    { status: 429, code: "rate_limited" },
    { status: 0 },
    { status: 200, state: "used" },
    { status: 404, state: "invalid" },
    { status: 0, timedOut: true },
    { status: 422, code: "idempotency_key_reused" },
    { status: 418 },
  ];

  test("every buyer lands in exactly one named row, and the rows add up to the buyers", () => {
    const rows = buyerRows(ends);
    expect(rows).toEqual({
      accepted: 300,
      "sold out in the queue": 690,
      "sold out once admitted (sold_out)": 10,
      "sold out (sold_out)": 1,
      "sold out (insufficient_stock)": 1,
      "over the per-buyer limit (user_limit_exceeded)": 1,
      "gave up on 503 (overloaded)": 1,
      "gave up on 429 (rate_limited)": 1,
      "gave up: no answer": 1,
      "ticket used": 1,
      "ticket invalid": 1,
      "still queued at the end": 1,
      "refused 422 (idempotency_key_reused)": 1,
      "refused 418": 1,
    });
    expect(Object.values(rows).reduce((a, b) => a + b, 0)).toBe(ends.length);
    // The accepted first, then the largest rows.
    expect(Object.keys(rows).slice(0, 3)).toEqual([
      "accepted",
      "sold out in the queue",
      "sold out once admitted (sold_out)",
    ]);
  });

  test("a 202 that is a place in the queue is not an accepted order", () => {
    expect(buyerRows([{ status: 202, state: "waiting" }])).toEqual({ "ticket waiting": 1 });
  });

  test("the printed report shows every row, and they add up to the buyers it names", () => {
    const report: DemoReport = {
      productId: "p",
      buyers: ends.length,
      units: 300,
      requests: 7000,
      accepted: 300,
      outcomes: buyerRows(ends),
      rateLimited: 1,
      latencyMs: { p50: 1, p99: 2 },
      regions: {},
      spillovers: 0,
      ordersInPostgres: 300,
      unitsSold: 300,
      oversold: 0,
      lost: 0,
      unexpected: 0,
      drainSeconds: 0.1,
      verifyDrifts: [],
    };
    const text = formatReport(report);
    const rows = text.slice(text.indexOf("buyers, by how they ended")).split("\n").slice(1);
    const printed = rows.filter((l) => l.startsWith("    ")).map((l) => Number(l.trim().split(/\s+/).pop()));
    expect(printed).toHaveLength(14);
    expect(printed.reduce((a, b) => a + b, 0)).toBe(report.buyers);
    expect(text).toContain("    sold out once admitted (sold_out)      10");
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
