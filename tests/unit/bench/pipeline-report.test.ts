/** The pipeline run's table and chart (bench/pipeline-report.ts): pure, so checked directly. */
import { expect, test } from "bun:test";
import { cpuPerOrder } from "../../../bench/pipeline-cpu.ts";
import { BEFORE, pipelineChartSvg, pipelineRows } from "../../../bench/pipeline-report.ts";

const flat = cpuPerOrder({ edge: 0, kafka: 0, "core-a": 0 }, { edge: 0.2, kafka: 0.3, "core-a": 0.5 }, 1_000);
const figures = { date: "2026-12-05", ordersPerS: 700, flat, fixed: flat, fixedRate: 350 };

test("the chart puts the issue's figures, dated and sourced, beside this run's, one pair of bars per kind of process", () => {
  const svg = pipelineChartSvg(figures);
  expect(svg).toContain("before: issue #25, by hand, 2026-12-04");
  expect(svg).toContain("after: this run, 2026-12-05 (700 orders/s): 1,000 µs in all");
  for (const value of Object.values(BEFORE.byGroup)) expect(svg).toContain(`>${value}<`);
  // after's edge, kafka and cores; the issue gave none for the admin API and the REST adapters.
  for (const value of [200, 300, 500]) expect(svg).toContain(`>${value}<`);
  expect(svg.match(/>–</g)).toHaveLength(2);
});

test("the table has the issue's column first, then each phase", () => {
  const rows = pipelineRows(figures);
  expect(Object.keys(rows.kafka!)).toEqual(["before (issue #25)", "flat out (700/s)", "at 350/s", "share"]);
  expect(rows.kafka!["before (issue #25)"]).toBe("598");
  expect(rows.total!["flat out (700/s)"]).toBe("1000");
  expect(rows.cores!.share).toBe("50%");
});
