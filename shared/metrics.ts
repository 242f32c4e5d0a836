/**
 * Prometheus metrics, through prom-client: one registry per process, labelled with the
 * component and region, served as text at `/metrics`. Each component names its own metrics
 * beside its code (core/metrics.ts, worker/metrics.ts); the HTTP timing is shared.
 */
import type { MiddlewareHandler } from "hono";
import { routePath } from "hono/route";
import { collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";

/** Seconds: from half a millisecond, where a reservation lives, to a few seconds. */
export const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

/** `region` is left out for a process that serves every region (the edge). */
export function createRegistry(component: string, region?: string): Registry {
  const registry = new Registry();
  registry.setDefaultLabels(region ? { component, region } : { component });
  // The event-loop lag is sampled by a timer: prom-client's default (every 10 ms) cost each
  // idle process ~0.3 % of a core; once a second still shows a stalled loop.
  collectDefaultMetrics({ register: registry, prefix: "flux_gate_", eventLoopMonitoringPrecision: 1000 });
  return registry;
}

/** A latency histogram in seconds, on the shared buckets. */
export function secondsHistogram(registry: Registry, name: string, help: string, labelNames: string[] = []): Histogram {
  return new Histogram({ name, help, labelNames, buckets: LATENCY_BUCKETS, registers: [registry] });
}

/** Times every request by its route pattern (not its path: ids would explode the series). */
export function requestTiming(registry: Registry): MiddlewareHandler {
  const histogram = secondsHistogram(
    registry,
    "flux_gate_http_request_duration_seconds",
    "HTTP requests by route pattern, method and status",
    ["route", "method", "status"],
  );
  return async (c, next) => {
    const stop = histogram.startTimer();
    await next();
    // The route whose handler ran last (the one that answered), not the last one matched: a
    // catch-all such as the REST adapter's path form matches every path.
    stop({ route: routePath(c), method: c.req.method, status: String(c.res.status) });
  };
}

/**
 * `flux_gate_ready`: 1 while the app's own /ready answers 200, else 0, read at each scrape, so
 * an alert sees exactly what a load balancer's probe sees.
 */
export function readinessGauge(registry: Registry, app: { request(path: string): Response | Promise<Response> }): void {
  new Gauge({
    name: "flux_gate_ready",
    help: "1 while the process's /ready answers 200 (it can serve), else 0",
    registers: [registry],
    async collect() {
      this.set((await app.request("/ready")).ok ? 1 : 0);
    },
  });
}

/** What `instrument` needs of a Hono app, whatever its variables and routes. */
export interface Instrumentable {
  use(middleware: MiddlewareHandler): unknown;
  get(path: string, handler: () => Promise<Response>): unknown;
  request(path: string): Response | Promise<Response>;
}

/**
 * What every process's app gets: each request timed, `/metrics`, and `flux_gate_ready`. Call it
 * before the app's routes (Hono runs middleware in the order it was added). `serve: false` leaves
 * `/metrics` off the app, for a process whose port faces buyers (the edge serves it apart).
 */
export function instrument(app: Instrumentable, registry: Registry, { serve = true } = {}): void {
  app.use(requestTiming(registry));
  if (serve) app.get("/metrics", () => metricsResponse(registry));
  readinessGauge(registry, app);
}

export async function metricsResponse(registry: Registry): Promise<Response> {
  return new Response(await registry.metrics(), { headers: { "Content-Type": registry.contentType } });
}

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/**
 * Samples from Prometheus text (what /metrics serves), for the dashboard and the tests. Our
 * own exposition only: no escaped quotes or commas inside label values, which prom-client
 * would write only if a label value held them.
 */
export function readSamples(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split("\n")) {
    const match = /^([a-zA-Z_:][\w:]*)(?:\{([^}]*)\})? (\S+)/.exec(line);
    if (!match) continue;
    const labels: Record<string, string> = {};
    for (const pair of match[2]?.split(",") ?? []) {
      const [key, quoted] = pair.split("=");
      if (key && quoted) labels[key] = quoted.replace(/^"|"$/g, "");
    }
    samples.push({ name: match[1]!, labels, value: Number(match[3]) });
  }
  return samples;
}

/** The sum of a metric's samples whose labels include `where`. */
export function total(samples: Sample[], name: string, where: Record<string, string> = {}): number {
  return samples
    .filter((s) => s.name === name && Object.entries(where).every(([k, v]) => s.labels[k] === v))
    .reduce((n, s) => n + s.value, 0);
}

/** A histogram's cumulative buckets: upper bound (seconds, `Infinity` last) → observations at or under it. */
export type Buckets = [le: number, count: number][];

/** The `_bucket` series of histogram `name` whose labels include `where`, summed over the rest (status, …). */
export function histogramBuckets(samples: Sample[], name: string, where: Record<string, string> = {}): Buckets {
  const byBound = new Map<number, number>();
  for (const s of samples) {
    if (s.name !== `${name}_bucket` || !Object.entries(where).every(([k, v]) => s.labels[k] === v)) continue;
    const le = s.labels.le === "+Inf" ? Number.POSITIVE_INFINITY : Number(s.labels.le);
    byBound.set(le, (byBound.get(le) ?? 0) + s.value);
  }
  return [...byBound].sort(([a], [b]) => a - b);
}

/** What was observed between two readings of the same histogram (`earlier` may be empty: a restart). Pure. */
export function bucketsSince(earlier: Buckets, later: Buckets): Buckets {
  const before = new Map(earlier);
  const delta = later.map(([le, count]): [number, number] => [le, count - (before.get(le) ?? 0)]);
  // A counter that went down is a process that restarted: everything it counted is new.
  return delta.some(([, count]) => count < 0) ? later : delta;
}

/**
 * The q-quantile of a histogram, interpolated inside its bucket as Prometheus's
 * `histogram_quantile` does; null with no observations. Pure.
 */
export function histogramQuantile(q: number, buckets: Buckets): number | null {
  const total = buckets.at(-1)?.[1] ?? 0;
  if (total <= 0) return null;
  const rank = q * total;
  let lower = 0;
  let below = 0;
  for (const [le, count] of buckets) {
    if (count >= rank) {
      if (le === Number.POSITIVE_INFINITY) return lower;
      return lower + ((le - lower) * (rank - below)) / Math.max(count - below, Number.MIN_VALUE);
    }
    lower = le;
    below = count;
  }
  return lower;
}
