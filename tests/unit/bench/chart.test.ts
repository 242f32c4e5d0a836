/** The soak's chart: pure, so checked directly. */
import { expect, test } from "bun:test";
import { barChartSvg, lineChartSvg } from "../../../bench/chart.ts";

test("the line starts at the left axis and ends at the right, the y axis from 0 with room above the top point; text is escaped", () => {
  const svg = lineChartSvg({
    title: "a < b & c",
    xLabel: "orders",
    yLabel: "MB",
    points: [
      { x: 0, y: 10 },
      { x: 500, y: 20 },
      { x: 1_000_000, y: 40 },
    ],
  });
  expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
  expect(svg).toContain("a &lt; b &amp; c");
  const points = /<polyline [^>]*points="([^"]+)"/
    .exec(svg)![1]!
    .split(" ")
    .map((p) => p.split(",").map(Number));
  expect(points).toHaveLength(3);
  expect(points[0]![0]).toBe(64);
  expect(points[2]![0]).toBe(640 - 24);
  // 40 MB is the highest point: 1/1.1 of the way up the 272-pixel plot, from its bottom at 312.
  expect(points[2]![1]).toBeCloseTo(312 - 272 / 1.1, 0);
  expect(points[0]![1]).toBeCloseTo(312 - (272 * 10) / 44, 0);
  expect(svg).toContain(">1M<");
});

test("bar chart: one bar per value in each category, heights in proportion from 0, a missing value drawn as a dash", () => {
  const svg = barChartSvg({
    title: "CPU per order",
    subtitle: "before: issue & hand",
    yLabel: "µs",
    categories: ["edge", "admin"],
    series: [
      { label: "before", values: [500, undefined] },
      { label: "after", values: [250, 10] },
    ],
  });
  expect(svg).toContain("before: issue &amp; hand");
  const bars = [...svg.matchAll(/<rect x="[^"]+" y="([^"]+)" width="[^"]+" height="([^"]+)" fill="#/g)]
    .map((m) => Number(m[2]))
    .filter((h) => h > 12); // the legend's swatches are 12 px
  expect(bars).toHaveLength(2);
  expect(bars[0]! / bars[1]!).toBeCloseTo(2, 1);
  expect(svg).toContain(">–<");
  expect(svg).toContain(">500<");
  expect(svg).toContain(">10<");
});
