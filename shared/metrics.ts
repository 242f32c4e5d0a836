/**
 * Prometheus metrics, through prom-client: one registry per process, labelled with the
 * component and region, served as text at `/metrics`. Each component names its own metrics
 * beside its code (core/metrics.ts, worker/metrics.ts); the HTTP timing is shared.
 */
import type { MiddlewareHandler } from "hono";
import { routePath } from "hono/route";
import { collectDefaultMetrics, Histogram, Registry } from "prom-client";

/** Seconds: from half a millisecond, where a reservation lives, to a few seconds. */
export const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

export function createRegistry(component: string, region: string): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ component, region });
  collectDefaultMetrics({ register: registry, prefix: "flux_gate_" });
  return registry;
}

/** A latency histogram in seconds, on the shared buckets. */
export function secondsHistogram(registry: Registry, name: string, help: string, labelNames: string[] = []): Histogram {
  return new Histogram({ name, help, labelNames, buckets: LATENCY_BUCKETS, registers: [registry] });
}

/** Times every request by its route pattern (not its path: ids would explode the series). */
export function requestTiming(registry: Registry): MiddlewareHandler {
  const histogram = secondsHistogram(registry, "flux_gate_http_request_duration_seconds", "HTTP requests by route pattern, method and status", ["route", "method", "status"]);
  return async (c, next) => {
    const stop = histogram.startTimer();
    await next();
    // The route whose handler ran last (the one that answered), not the last one matched: a
    // catch-all such as the gateway's path form matches every path.
    stop({ route: routePath(c), method: c.req.method, status: String(c.res.status) });
  };
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
