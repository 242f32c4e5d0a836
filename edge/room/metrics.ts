/**
 * The waiting room as Prometheus metrics, for the Bun edge's /metrics (the dashboard charts them).
 * Apart from waiting-room.ts so that the Workers bundle carries no prom-client.
 */
import { Counter, Gauge, type Registry } from "prom-client";
import type { RoomObserver } from "./waiting-room.ts";

export function roomMetrics(registry: Registry): RoomObserver {
  const entries = new Counter({
    name: "flux_gate_room_entries_total",
    help: "Orders that met a waiting room, by region and outcome (admitted, queued, shed, sold_out, expired)",
    labelNames: ["region", "outcome"],
    registers: [registry],
  });
  const waiting = new Gauge({
    name: "flux_gate_room_waiting",
    help: "Buyers a product's waiting room holds in the region (admitted ones not counted), as this edge last saw",
    labelNames: ["region", "product"],
    registers: [registry],
  });
  return {
    entered: (region, outcome) => entries.inc({ region, outcome }),
    waiting: (region, product, buyers) => waiting.set({ region, product }, buyers),
  };
}
