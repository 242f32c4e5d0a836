/** `npm run demo -- --wan`'s buyers and figures: pure. */
import { expect, test } from "bun:test";
import { rendezvousHome } from "../../../shared/home-region.ts";
import { formatWan, wanFigures, wanHistogramSvg, wanRoute } from "../../../demo/wan.ts";

const regions = ["us-east", "eu-west"];
const edges = [
  { region: "us-east", url: "http://127.0.0.1:8080" },
  { region: "eu-west", url: "http://127.0.0.1:8081" },
];
const homeOf = (u: string) => rendezvousHome(u, regions);

test("buyers alternate sides, and near and far on each side; near ones name their side as home, far ones hash to the other", () => {
  const routes = Array.from({ length: 400 }, (_, i) => wanRoute(i, `demo-r-${i}`, edges, homeOf));
  expect(routes.slice(0, 4).map((r) => [r.side, r.group, r.edgeUrl])).toEqual([
    ["us-east", "near", "http://127.0.0.1:8080"],
    ["eu-west", "near", "http://127.0.0.1:8081"],
    ["us-east", "far", "http://127.0.0.1:8080"],
    ["eu-west", "far", "http://127.0.0.1:8081"],
  ]);
  for (const r of routes) {
    expect(r.headers["X-Region"]).toBe(r.side);
    if (r.group === "near") expect(r.headers["X-Home-Region"]).toBe(r.side);
    else {
      expect(r.headers["X-Home-Region"]).toBeUndefined();
      expect(homeOf(r.userId)).not.toBe(r.side);
    }
  }
  expect(new Set(routes.map((r) => r.userId)).size).toBe(400);
  // The same buyer is routed the same way every time (the demo asks again per request).
  expect(wanRoute(7, "demo-r-7", edges, homeOf)).toEqual(routes[7]!);
});

test("the figures: p50 per group, the probes' median round trips, the targets", () => {
  const w = wanFigures({
    delayMs: 35,
    served: { near: [5, 8, 9, 12, 200], far: [75, 78, 80, 90, 300] },
    latencies: { near: [5, 8, 9, 12, 200, 90, 95], far: [75, 78, 80, 90, 300] },
    probes: {
      near: [
        { ms: 4, roundTrips: 0 },
        { ms: 5, roundTrips: 0 },
        { ms: 80, roundTrips: 1 },
      ],
      far: [
        { ms: 74, roundTrips: 1 },
        { ms: 76, roundTrips: 1 },
        { ms: 150, roundTrips: 2 },
      ],
    },
  });
  expect(w).toMatchObject({
    delayMs: 35,
    nearHomeP50Ms: 9,
    farHomeP50Ms: 80,
    nearHomeRoundTrips: 0,
    farHomeRoundTrips: 1,
    nearHomeOrders: 5,
    allRequests: { nearHomeP50Ms: 12, nearHomeRequests: 7 },
    probes: { perGroup: 3, nearHomeP50Ms: 5, farHomeP50Ms: 76 },
    targets: { nearBelowDelay: true, farAtLeastTwiceDelay: true },
  });
  expect(formatWan(w).join("\n")).toContain("near-home 0, far-home 1");
  const slow = wanFigures({
    delayMs: 35,
    served: { near: [40], far: [60] },
    latencies: { near: [40], far: [60] },
    probes: { near: [], far: [] },
  });
  expect(slow.targets).toEqual({ nearBelowDelay: false, farAtLeastTwiceDelay: false });
  expect(slow.nearHomeRoundTrips).toBeNull();
});

test("the histogram: one bar per group and bucket, the shares add up to 100 %, the tail in the last bucket", () => {
  const svg = wanHistogramSvg({ near: [1, 2, 15, 999], far: [75, 76] }, { delayMs: 35, bucketMs: 10, buckets: 10 });
  expect(svg.startsWith("<svg")).toBe(true);
  expect(svg).toContain(">0–10<");
  expect(svg).toContain(">90+<");
  expect(svg).toContain("35 ms each way");
  // 2 of 4 near in 0–10 (50 %), 1 in 10–20, 1 in 90+; both far in 70–80 (100 %).
  const labels = [...svg.matchAll(/font-size="10">(\d+)</g)].map((m) => Number(m[1]));
  expect(labels).toContain(50);
  expect(labels).toContain(100);
  expect(labels.filter((n) => n === 25)).toHaveLength(2);
});
