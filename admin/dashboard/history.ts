/**
 * The dashboard's charts: the last five minutes, read each second from the processes' own
 * /metrics (every region's core and worker, and the edge) and kept in a ring buffer in the
 * admin process; no database. A point is the change between two readings: orders per second,
 * latency quantiles of the requests in between, and the gauges as they stood.
 */
import type { Region } from "../../shared/config.ts";
import { bucketsSince, histogramBuckets, histogramQuantile, type Buckets, type Sample } from "../../shared/metrics.ts";
import { acceptedOrders, known, scrape, scrapeRegion, type RegionScrape } from "./stats.ts";

/** One region's metrics as read at one moment. */
export interface RegionReading {
  accepted: number | null;
  /** The core's POST /v1/reservations, cumulative. */
  latency: Buckets | null;
  outboxDepth: number | null;
  consumerLag: number | null;
  /** Product → its units here (sales on, or ended within the hour). */
  units: Record<string, { allocated: number; held: number; sold: number }> | null;
}

/** The edge's waiting rooms in one region: admissions so far, and the buyers they hold now. */
export interface RoomReading {
  admitted: number;
  waiting: number;
}

export interface Reading {
  at: number;
  regions: Record<string, RegionReading>;
  /** The edge's POST /v1/orders, cumulative; null when no edge answered. */
  edge: Buckets | null;
  /** Region → its waiting rooms, as the edge counts them; absent for a region no room has met. */
  rooms: Record<string, RoomReading>;
}

export interface HistoryPoint {
  /** When the second reading was taken (ms). */
  at: number;
  regions: Record<
    string,
    {
      acceptedPerSecond: number | null;
      coreP50Ms: number | null;
      coreP99Ms: number | null;
      outboxDepth: number | null;
      consumerLag: number | null;
      /** Product → (sold + held) / allocated, 0–1. */
      sellThrough: Record<string, number>;
      /** Orders the region's waiting rooms let in, per second; buyers they hold (null: no room met yet). */
      roomAdmittedPerSecond: number | null;
      roomWaiting: number | null;
    }
  >;
  edge: { p50Ms: number | null; p99Ms: number | null };
}

/** A region's reading from its core's and worker's samples (undefined: the process did not answer). Pure. */
export function regionReading({ counted, shared, worker }: RegionScrape): RegionReading {
  const units: RegionReading["units"] = shared ? {} : null;
  for (const s of shared ?? []) {
    if (s.name !== "flux_gate_product_units" || !s.labels.product) continue;
    units![s.labels.product] ??= { allocated: 0, held: 0, sold: 0 };
    const product = units![s.labels.product]!;
    const state = s.labels.state;
    if (state === "allocated" || state === "held" || state === "sold") product[state] = s.value;
  }
  return {
    accepted: counted ? acceptedOrders(counted) : null,
    latency: counted
      ? histogramBuckets(counted, "flux_gate_http_request_duration_seconds", {
          route: "/v1/reservations",
          method: "POST",
        })
      : null,
    outboxDepth: known(shared, "flux_gate_outbox_depth"),
    consumerLag: known(worker, "flux_gate_worker_consumer_lag"),
    units,
  };
}

export function edgeReading(edge: Sample[] | undefined): Buckets | null {
  return edge
    ? histogramBuckets(edge, "flux_gate_http_request_duration_seconds", { route: "/v1/orders", method: "POST" })
    : null;
}

/** Per region: the edge's room admissions (cumulative) and the buyers its rooms hold (every product). Pure. */
export function roomReading(edge: Sample[] | undefined): Record<string, RoomReading> {
  const rooms: Record<string, RoomReading> = {};
  for (const s of edge ?? []) {
    const region = s.labels.region;
    const admitted = s.name === "flux_gate_room_entries_total" && s.labels.outcome === "admitted";
    if (!region || !(admitted || s.name === "flux_gate_room_waiting")) continue;
    const room = rooms[region] ?? { admitted: 0, waiting: 0 };
    rooms[region] = room;
    if (admitted) room.admitted += s.value;
    else room.waiting += s.value;
  }
  return rooms;
}

const ms = (seconds: number | null) => (seconds === null ? null : Math.round(seconds * 100_000) / 100);

/** The quantiles of what a histogram observed between two readings, in ms. */
function quantilesBetween(
  earlier: Buckets | null | undefined,
  later: Buckets | null,
): { p50: number | null; p99: number | null } {
  if (!later) return { p50: null, p99: null };
  const window = bucketsSince(earlier ?? [], later);
  return { p50: ms(histogramQuantile(0.5, window)), p99: ms(histogramQuantile(0.99, window)) };
}

/** The point the charts draw for the time between `previous` and `current`. Pure. */
export function pointBetween(previous: Reading | undefined, current: Reading): HistoryPoint {
  const seconds = previous ? (current.at - previous.at) / 1000 : 0;
  const regions: HistoryPoint["regions"] = {};
  for (const [id, now] of Object.entries(current.regions)) {
    const before = previous?.regions[id];
    const accepted =
      now.accepted !== null && before?.accepted != null && seconds > 0
        ? Math.max(0, now.accepted - before.accepted) / seconds
        : null;
    const core = quantilesBetween(before?.latency, now.latency);
    const sellThrough = Object.fromEntries(
      Object.entries(now.units ?? {})
        .filter(([, u]) => u.allocated > 0)
        .map(([product, u]) => [product, (u.sold + u.held) / u.allocated]),
    );
    const room = current.rooms[id];
    const roomBefore = previous?.rooms[id];
    regions[id] = {
      acceptedPerSecond: accepted,
      coreP50Ms: core.p50,
      coreP99Ms: core.p99,
      outboxDepth: now.outboxDepth,
      consumerLag: now.consumerLag,
      sellThrough,
      roomAdmittedPerSecond:
        room && seconds > 0 ? Math.max(0, room.admitted - (roomBefore?.admitted ?? 0)) / seconds : null,
      roomWaiting: room?.waiting ?? null,
    };
  }
  const edge = quantilesBetween(previous?.edge, current.edge);
  return { at: current.at, regions, edge: { p50Ms: edge.p50, p99Ms: edge.p99 } };
}

/** Keeps the last `keep` points; the oldest falls off. */
export class Ring<T> {
  private readonly items: T[] = [];
  constructor(private readonly keep: number) {}
  push(item: T): void {
    this.items.push(item);
    if (this.items.length > this.keep) this.items.shift();
  }
  all(): T[] {
    return [...this.items];
  }
}

export const HISTORY_SECONDS = 300;

/**
 * Reads every region and the edge and keeps the last five minutes of points: each `intervalMs`
 * while someone looks (the history was asked for within `watchMs`), else each `idleIntervalMs`,
 * since every reading costs each scraped process a /metrics render. The first look after a
 * quiet spell reads at once.
 */
export function startHistory({
  regions,
  edgeUrl,
  intervalMs = 1_000,
  idleIntervalMs = 30_000,
  watchMs = 60_000,
}: {
  regions: Region[];
  edgeUrl: string;
  intervalMs?: number;
  idleIntervalMs?: number;
  watchMs?: number;
}) {
  const points = new Ring<HistoryPoint>(Math.ceil((HISTORY_SECONDS * 1000) / intervalMs));
  let previous: Reading | undefined;
  let watchedAt = Number.NEGATIVE_INFINITY;
  const watched = () => performance.now() - watchedAt < watchMs;

  async function read() {
    const [edge, perRegion] = await Promise.all([
      scrape(edgeUrl),
      Promise.all(regions.map(async (r) => regionReading(await scrapeRegion(r)))),
    ]);
    const reading: Reading = {
      at: Date.now(),
      regions: Object.fromEntries(regions.map((r, i) => [r.id, perRegion[i]!])),
      edge: edgeReading(edge),
      rooms: roomReading(edge),
    };
    if (previous) points.push(pointBetween(previous, reading));
    previous = reading;
  }

  let running = true;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let wake = () => {};
  const loop = (async () => {
    while (running) {
      await read();
      if (!running) break;
      await new Promise<void>((resolve) => {
        wake = resolve;
        timer = setTimeout(resolve, watched() ? intervalMs : idleIntervalMs);
      });
    }
  })();

  return {
    /** The points of the last five minutes; asking counts as looking. */
    points: () => {
      const quiet = !watched();
      watchedAt = performance.now();
      if (quiet) {
        clearTimeout(timer);
        wake();
      }
      const since = Date.now() - HISTORY_SECONDS * 1000;
      return points.all().filter((p) => p.at >= since);
    },
    async stop() {
      running = false;
      clearTimeout(timer);
      wake();
      await loop;
    },
  };
}

export type History = ReturnType<typeof startHistory>;
