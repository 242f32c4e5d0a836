/**
 * `npm run demo -- --wan`'s buyers and figures (docs/capacity.md#the-wan-simulated). Pure.
 *
 * Buyers come from every region's side, each to their side's edge, and ask to be served there
 * (`X-Region`). Half of them are near-home: their identity names their side's region as home
 * (`X-Home-Region`), so their answer needs nothing from across the WAN. The other half are
 * far-home: no home named, and a user id whose rendezvous hash lands in another region, so their
 * admission (rate limit, Idempotency-Key, allowance) is a round trip across the WAN.
 */
import { barChartSvg } from "../bench/chart.ts";
import { quantile } from "./progress.ts";

export type WanGroup = "near" | "far";

export interface WanRoute {
  side: string;
  group: WanGroup;
  edgeUrl: string;
  userId: string;
  headers: Record<string, string>;
}

/**
 * Buyer `i`: sides in turn (0 → the first region's edge, 1 → the second's, …), and near and far
 * in turn on each side. `homeOf` is the edge's hash (rendezvousHome over the regions).
 */
export function wanRoute(
  i: number,
  baseUserId: string,
  edges: { region: string; url: string }[],
  homeOf: (userId: string) => string,
): WanRoute {
  const edge = edges[i % edges.length]!;
  const group: WanGroup = Math.floor(i / edges.length) % 2 === 0 ? "near" : "far";
  if (group === "near")
    return {
      side: edge.region,
      group,
      edgeUrl: edge.url,
      userId: baseUserId,
      headers: { "X-Home-Region": edge.region, "X-Region": edge.region },
    };
  let userId = baseUserId;
  for (let n = 1; homeOf(userId) === edge.region; n++) userId = `${baseUserId}-${n}`;
  return { side: edge.region, group, edgeUrl: edge.url, userId, headers: { "X-Region": edge.region } };
}

export interface WanFigures {
  /** The relays' one-way delay. */
  delayMs: number;
  /**
   * Near-home buyers' orders during the sale that their edge's region took (a 202 from it: no
   * spillover): home and serving region are the edge's.
   */
  nearHomeP50Ms: number | null;
  /** Far-home buyers' orders their edge's region took: no home named, hashed to the other region. */
  farHomeP50Ms: number | null;
  nearHomeP99Ms: number | null;
  farHomeP99Ms: number | null;
  /** How many orders each p50 is of. */
  nearHomeOrders: number;
  farHomeOrders: number;
  /**
   * Every request of each group, sold-out answers included: those asked the other region too
   * (spillover), a round trip across the WAN each.
   */
  allRequests: {
    nearHomeP50Ms: number | null;
    farHomeP50Ms: number | null;
    nearHomeRequests: number;
    farHomeRequests: number;
  };
  /** Inter-region round trips on the answer path per order, the median of the probe orders. */
  nearHomeRoundTrips: number | null;
  farHomeRoundTrips: number | null;
  /** How the round trips were counted. */
  roundTripsCountedBy: string;
  /** The probe orders, sent one at a time before the sale: how many per group, and their p50. */
  probes: { perGroup: number; nearHomeP50Ms: number | null; farHomeP50Ms: number | null };
  /** nearHomeP50Ms < delayMs; farHomeP50Ms ≥ 2 × delayMs. */
  targets: { nearBelowDelay: boolean; farAtLeastTwiceDelay: boolean };
}

export interface WanSamples {
  delayMs: number;
  /** The latency of each order the buyer's edge's region took during the sale, by the buyer's group. */
  served: Record<WanGroup, number[]>;
  /** Every request's latency during the sale, by the buyer's group. */
  latencies: Record<WanGroup, number[]>;
  /** Per probe order: its latency and the round trips the relays saw within it. */
  probes: Record<WanGroup, { ms: number; roundTrips: number }[]>;
}

const round = (ms: number | null) => (ms === null ? null : Math.round(ms * 10) / 10);

export function wanFigures({ delayMs, served, latencies, probes }: WanSamples): WanFigures {
  const nearP50 = round(quantile(served.near, 0.5));
  const farP50 = round(quantile(served.far, 0.5));
  return {
    delayMs,
    nearHomeP50Ms: nearP50,
    farHomeP50Ms: farP50,
    nearHomeP99Ms: round(quantile(served.near, 0.99)),
    farHomeP99Ms: round(quantile(served.far, 0.99)),
    nearHomeOrders: served.near.length,
    farHomeOrders: served.far.length,
    allRequests: {
      nearHomeP50Ms: round(quantile(latencies.near, 0.5)),
      farHomeP50Ms: round(quantile(latencies.far, 0.5)),
      nearHomeRequests: latencies.near.length,
      farHomeRequests: latencies.far.length,
    },
    nearHomeRoundTrips: quantile(
      probes.near.map((p) => p.roundTrips),
      0.5,
    ),
    farHomeRoundTrips: quantile(
      probes.far.map((p) => p.roundTrips),
      0.5,
    ),
    roundTripsCountedBy:
      "the WAN relays: round trips that began and ended within a probe order, probes sent one at a time before the sale; the median per group",
    probes: {
      perGroup: Math.min(probes.near.length, probes.far.length),
      nearHomeP50Ms: round(
        quantile(
          probes.near.map((p) => p.ms),
          0.5,
        ),
      ),
      farHomeP50Ms: round(
        quantile(
          probes.far.map((p) => p.ms),
          0.5,
        ),
      ),
    },
    targets: {
      nearBelowDelay: nearP50 !== null && nearP50 < delayMs,
      farAtLeastTwiceDelay: farP50 !== null && farP50 >= 2 * delayMs,
    },
  };
}

export function formatWan(w: WanFigures): string[] {
  const line = (label: string, value: string | number) => `  ${label.padEnd(22)} ${value}`;
  const mark = (ok: boolean) => (ok ? "✓" : "✗");
  return [
    `WAN: ${w.delayMs} ms each way between the regions, one edge per region`,
    line(
      "near-home p50 / p99",
      `${w.nearHomeP50Ms ?? "–"} ms / ${w.nearHomeP99Ms ?? "–"} ms (${w.nearHomeOrders} orders taken by the edge's region; target p50 < ${w.delayMs} ms ${mark(w.targets.nearBelowDelay)})`,
    ),
    line(
      "far-home p50 / p99",
      `${w.farHomeP50Ms ?? "–"} ms / ${w.farHomeP99Ms ?? "–"} ms (${w.farHomeOrders} orders taken by the edge's region; target p50 ≥ ${2 * w.delayMs} ms ${mark(w.targets.farAtLeastTwiceDelay)})`,
    ),
    line(
      "every request p50",
      `near-home ${w.allRequests.nearHomeP50Ms ?? "–"} ms, far-home ${w.allRequests.farHomeP50Ms ?? "–"} ms (sold-out answers included: they ask the other region too)`,
    ),
    line(
      "WAN round trips/order",
      `near-home ${w.nearHomeRoundTrips ?? "–"}, far-home ${w.farHomeRoundTrips ?? "–"} (counted by the relays over ${w.probes.perGroup} probe orders per group, one at a time: p50 ${w.probes.nearHomeP50Ms ?? "–"} ms and ${w.probes.farHomeP50Ms ?? "–"} ms)`,
    ),
  ];
}

/**
 * The two groups' latency distributions as a histogram (bench/chart.ts's bars): the share of
 * each group's orders per `bucketMs` bucket, the last bucket holding everything above.
 */
export function wanHistogramSvg(
  latencies: Record<WanGroup, number[]>,
  {
    delayMs,
    bucketMs = 10,
    buckets = 16,
    subtitle,
  }: { delayMs: number; bucketMs?: number; buckets?: number; subtitle?: string },
): string {
  const share = (values: number[]) => {
    const counts = Array.from({ length: buckets }, () => 0);
    for (const v of values) counts[Math.min(buckets - 1, Math.floor(v / bucketMs))]!++;
    return counts.map((c) => (values.length === 0 ? 0 : (100 * c) / values.length));
  };
  const categories = Array.from({ length: buckets }, (_, b) =>
    b === buckets - 1 ? `${b * bucketMs}+` : `${b * bucketMs}–${(b + 1) * bucketMs}`,
  );
  return barChartSvg({
    title: `Orders taken by the buyer's edge's region, ${delayMs} ms each way between the regions`,
    subtitle,
    yLabel: "% of the group's orders, per ms bucket",
    categories,
    series: [
      {
        label: `near-home (home and serving region: the edge's own), p50 ${fmt(quantile(latencies.near, 0.5))} ms`,
        values: share(latencies.near),
      },
      {
        label: `far-home (hashed to the other region), p50 ${fmt(quantile(latencies.far, 0.5))} ms`,
        values: share(latencies.far),
      },
    ],
  });
}

const fmt = (ms: number | null) => (ms === null ? "–" : ms.toFixed(1));
