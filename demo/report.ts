import type { RoomFigures } from "./crowd.ts";

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
  /** Buyers whose order was accepted. */
  accepted: number;
  /** Buyers told the product was sold out. */
  soldOut: number;
  /** 429 answers (a buyer retries after Retry-After, so one buyer may get several). */
  rateLimited: number;
  /** Buyers whose last answer was neither: an error, or a 429 after every retry. */
  failed: number;
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
    line("buyers accepted", r.accepted),
    line("buyers sold out", r.soldOut),
    line("buyers failed", r.failed),
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
