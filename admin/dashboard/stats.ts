/**
 * What the dashboard shows beside the counters: per region, read from the cores' and the
 * workers' own /metrics, so the dashboard and Prometheus never disagree.
 */
import type { Region } from "../../shared/config.ts";
import { readSamples, total, type Sample } from "../../shared/metrics.ts";

export interface RegionStats {
  region: string;
  /** Reservations the core accepted since it started (reserved or sold at once). */
  ordersAccepted: number | null;
  /** Every reservation request the core answered, refusals included. */
  reservationRequests: number | null;
  outboxDepth: number | null;
  consumerLag: number | null;
  /** When the numbers were read (ms), for rates computed from two readings. */
  at: number;
}

const SCRAPE_TIMEOUT_MS = 1_000;

export async function scrape(url: string): Promise<Sample[] | undefined> {
  try {
    const response = await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(SCRAPE_TIMEOUT_MS) });
    return response.ok ? readSamples(await response.text()) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * A region's processes' metrics, as the dashboard reads them: what each core counted itself
 * (requests, latencies: summed over the region's cores), what every core reads alike from the
 * region's Redis (outbox depth, units: one core's, or they would count twice), and one worker's
 * (each reports its whole group's lag). Undefined where no process of that kind answered.
 */
export interface RegionScrape {
  counted: Sample[] | undefined;
  shared: Sample[] | undefined;
  worker: Sample[] | undefined;
}

export async function scrapeRegion(region: Region): Promise<RegionScrape> {
  const [cores, workers] = await Promise.all([
    Promise.all(region.cores.map((core) => scrape(core.url))),
    Promise.all(region.workers.map((worker) => scrape(worker.url))),
  ]);
  const answered = cores.filter((samples): samples is Sample[] => samples !== undefined);
  return {
    counted: answered.length > 0 ? answered.flat() : undefined,
    shared: answered[0],
    worker: workers.find((samples) => samples !== undefined),
  };
}

/** The sum of a metric, or null when the process did not answer or could not measure it (NaN). */
export function known(samples: Sample[] | undefined, name: string): number | null {
  if (!samples) return null;
  const sum = total(samples, name);
  return Number.isNaN(sum) ? null : sum;
}

/** Reservations a core accepted since it started: reserved, or sold at once. */
export function acceptedOrders(core: Sample[]): number {
  return (
    total(core, "flux_gate_reservations_total", { outcome: "reserved" }) +
    total(core, "flux_gate_reservations_total", { outcome: "confirmed" })
  );
}

/** How long one reading serves every dashboard that asks: they all poll once a second. */
const FRESH_MS = 1_000;

/**
 * A region whose core or worker does not answer shows null for what it would have said. One
 * reading (or the one in flight) answers all callers within FRESH_MS, so more dashboards do
 * not mean more scrapes of the cores, the workers and Kafka.
 */
export function regionStats(regions: Region[]): () => Promise<RegionStats[]> {
  let last: { at: number; reading: Promise<RegionStats[]> } | undefined;
  const read = () =>
    Promise.all(
      regions.map(async (region) => {
        const { counted, shared, worker } = await scrapeRegion(region);
        return {
          region: region.id,
          ordersAccepted: counted ? acceptedOrders(counted) : null,
          reservationRequests: counted ? total(counted, "flux_gate_reservations_total") : null,
          outboxDepth: known(shared, "flux_gate_outbox_depth"),
          consumerLag: known(worker, "flux_gate_worker_consumer_lag"),
          at: Date.now(),
        };
      }),
    );
  return () => {
    if (!last || Date.now() - last.at >= FRESH_MS) last = { at: Date.now(), reading: read() };
    return last.reading;
  };
}
