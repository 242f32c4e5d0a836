import type { BuyerEnd, RoomFigures } from "./crowd.ts";
import { formatWan, type WanFigures } from "./wan.ts";

/**
 * The demo's closing report, from what PostgreSQL holds, not from what the buyers counted:
 * "oversold" and "lost" are properties of the system of record.
 */
export interface StoredOrder {
  id: string;
  region: string;
  originRegion: string;
  quantity: number;
  status: string;
}

export interface DemoReport {
  productId: string;
  buyers: number;
  units: number;
  requests: number;
  /** Orders the edge accepted, by the buyers' 202s (what PostgreSQL must hold). */
  accepted: number;
  /** Every buyer in exactly one row, by how their try ended (`buyerRows`). */
  outcomes: Record<string, number>;
  /** 429 answers (a buyer retries after Retry-After, so one buyer may get several). */
  rateLimited: number;
  latencyMs: { p50: number | null; p99: number | null };
  regions: Record<string, { allocated: number; sold: number; spilledIn: number }>;
  spillovers: number;
  ordersInPostgres: number;
  unitsSold: number;
  /** Units sold beyond the product's total, or beyond a region's allocation. */
  oversold: number;
  /** Orders the edge accepted that PostgreSQL does not have. */
  lost: number;
  /** Orders in PostgreSQL no buyer was told were accepted. */
  unexpected: number;
  drainSeconds: number | null;
  verifyDrifts: string[];
  /** With --crowd: how the waiting room held up. */
  room?: RoomFigures;
  /** With --wan: near-home and far-home buyers' latency and round trips across the WAN (demo/wan.ts). */
  wan?: WanFigures;
}

/** The answers that mean "none left for you here or anywhere you could spill to". */
export const SOLD_OUT = new Set(["sold_out", "insufficient_stock"]);

/**
 * A buyer's row. Every end has one, and an answer nobody foresaw gets a row of its own named
 * by its status and code, so that no buyer can fall out of the report unexplained.
 */
export function outcomeOf(end: BuyerEnd): string {
  const code = end.code ? ` (${end.code})` : "";
  if (end.timedOut) return "still queued at the end";
  // A 202 with a ticket is a place in the queue, not an order.
  if (end.status === 202 && !end.state) return "accepted";
  if (end.state === "sold_out") return "sold out in the queue";
  if (SOLD_OUT.has(end.code ?? "")) return end.admitted ? `sold out once admitted${code}` : `sold out${code}`;
  if (end.code === "user_limit_exceeded") return `over the per-buyer limit${code}`;
  if (end.state) return `ticket ${end.state}`;
  if (end.status === 0) return "gave up: no answer";
  if (end.status === 429 || end.status >= 500) return `gave up on ${end.status}${code}`;
  return `refused ${end.status}${code}`;
}

/** Buyers per row, the accepted first and then the largest; the rows add up to the buyers. */
export function buyerRows(ends: BuyerEnd[]): Record<string, number> {
  const rows = new Map<string, number>();
  for (const end of ends) {
    const row = outcomeOf(end);
    rows.set(row, (rows.get(row) ?? 0) + 1);
  }
  const rank = ([row, n]: [string, number]) => (row === "accepted" ? Number.POSITIVE_INFINITY : n);
  return Object.fromEntries([...rows].sort((a, b) => rank(b) - rank(a)));
}

export function regionsReport(allocations: Record<string, number>, stored: StoredOrder[]): DemoReport["regions"] {
  const regions: DemoReport["regions"] = {};
  for (const [region, allocated] of Object.entries(allocations)) regions[region] = { allocated, sold: 0, spilledIn: 0 };
  for (const o of stored) {
    regions[o.region] ??= { allocated: 0, sold: 0, spilledIn: 0 };
    const r = regions[o.region]!;
    if (o.status === "confirmed") r.sold += o.quantity;
    if (o.region !== o.originRegion) r.spilledIn++;
  }
  return regions;
}

export function integrity(units: number, regions: DemoReport["regions"], accepted: string[], stored: StoredOrder[]) {
  const storedIds = new Set(stored.map((o) => o.id));
  const acceptedIds = new Set(accepted);
  const unitsSold = Object.values(regions).reduce((n, r) => n + r.sold, 0);
  const overRegions = Object.values(regions).reduce((n, r) => n + Math.max(0, r.sold - r.allocated), 0);
  return {
    unitsSold,
    oversold: Math.max(unitsSold - units, overRegions),
    lost: accepted.filter((id) => !storedIds.has(id)).length,
    unexpected: stored.filter((o) => !acceptedIds.has(o.id)).length,
    spillovers: stored.filter((o) => o.region !== o.originRegion).length,
  };
}

export function formatReport(r: DemoReport): string {
  const line = (label: string, value: string | number) => `  ${label.padEnd(22)} ${value}`;
  const ok = (n: number) => (n === 0 ? "0 ✓" : `${n} ✗`);
  return [
    `Flash sale of ${r.productId}: ${r.units} units, ${r.buyers} buyers`,
    line("requests", r.requests),
    "  buyers, by how they ended",
    ...Object.entries(r.outcomes).map(([row, buyers]) => `    ${row.padEnd(38)} ${buyers}`),
    line("429 answers", r.rateLimited),
    line("latency p50 / p99", `${r.latencyMs.p50 ?? "–"} ms / ${r.latencyMs.p99 ?? "–"} ms`),
    ...Object.entries(r.regions).map(([region, x]) =>
      line(`sold in ${region}`, `${x.sold} of ${x.allocated} (${x.spilledIn} orders spilled in)`),
    ),
    line("spillovers", r.spillovers),
    line("orders in PostgreSQL", `${r.ordersInPostgres} (${r.unitsSold} units)`),
    line("oversold", ok(r.oversold)),
    line("lost", ok(r.lost)),
    line("unexpected", ok(r.unexpected)),
    line("time to drain", r.drainSeconds === null ? "did not drain" : `${r.drainSeconds.toFixed(2)} s`),
    line("verify", r.verifyDrifts.length === 0 ? "every unit accounted for ✓" : r.verifyDrifts.join("; ")),
    ...(r.room ? roomLines(r.room, line) : []),
    ...(r.wan ? formatWan(r.wan) : []),
  ].join("\n");
}

function roomLines(room: RoomFigures, line: (label: string, value: string | number) => string): string[] {
  return [
    `Waiting room: ${room.room_crowd_per_s} buyers/s arriving, ${room.room_rate} admitted/s per region`,
    line("admitted order p99", `${room.room_admitted_p99_ms} ms`),
    line("any answer p99 / max", `${room.room_answer_p99_ms} ms / ${room.room_answer_max_ms} ms`),
    line(
      "told sold out",
      `${room.room_told_sold_out} buyers, at most ${room.room_soldout_notice_ms} ms after the last unit`,
    ),
    line("places moved back", room.room_places_backwards === 0 ? "0 ✓" : `${room.room_places_backwards} ✗`),
  ];
}
