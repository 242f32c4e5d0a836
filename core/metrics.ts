/** The core's metrics: what it decided, what waits in its outbox, how fast the relay publishes. */
import { Counter, Gauge, type Registry } from "prom-client";
import { secondsHistogram } from "../shared/metrics.ts";
import type { RegionReads } from "./reservation/reads.ts";

/** A sale stays in `flux_gate_product_units` this long after it ended, then leaves the scrape. */
const WATCHED_AFTER_END_MS = 3_600_000;

export function coreMetrics(registry: Registry, store: RegionReads) {
  const registers = [registry];
  const reservations = new Counter({
    name: "flux_gate_reservations_total",
    help: "Reservation requests by outcome: reserved, confirmed (sold at once), replayed, or the refusal's problem code",
    labelNames: ["outcome"],
    registers,
  });
  new Gauge({
    name: "flux_gate_outbox_depth",
    help: "Order events in the outbox, waiting for the relay, per product",
    labelNames: ["product"],
    registers,
    // Redis unreachable: the depth is NaN (unknown, not 0), and the rest of the scrape still answers.
    async collect() {
      this.reset();
      try {
        for (const [product, depth] of await store.outboxDepths()) this.set({ product }, depth);
      } catch {
        this.set({ product: "unknown" }, Number.NaN);
      }
    },
  });
  // Sell-through at a glance (dashboards, Grafana): what each product's units are doing here.
  new Gauge({
    name: "flux_gate_product_units",
    help: "A product's units in this region by state (allocated, available, held, sold), for sales on or ended within the hour",
    labelNames: ["product", "state"],
    registers,
    // Redis unreachable: no series this scrape (unknown, not 0), and the rest still answers.
    async collect() {
      this.reset();
      const sales = await store.recentStocks(Date.now() - WATCHED_AFTER_END_MS).catch(() => []);
      for (const { productId: product, stock } of sales) {
        for (const state of ["allocated", "available", "held", "sold"] as const)
          this.set({ product, state }, stock[state]);
      }
    },
  });
  // Redis under `noeviction` refuses writes past maxmemory: how close it is, scraped from INFO.
  const memory = { used: "flux_gate_redis_used_memory_bytes", max: "flux_gate_redis_maxmemory_bytes" } as const;
  for (const [field, name] of Object.entries(memory) as [keyof typeof memory, string][]) {
    new Gauge({
      name,
      help: field === "used" ? "Bytes the region's Redis uses" : "The region's Redis maxmemory in bytes (0: no limit)",
      registers,
      async collect() {
        this.set(
          await store.memory().then(
            (m) => m[field],
            () => Number.NaN,
          ),
        );
      },
    });
  }
  const publish = secondsHistogram(
    registry,
    "flux_gate_relay_publish_duration_seconds",
    "One relay round's Kafka send, until every broker acknowledged it",
  );
  const published = new Counter({
    name: "flux_gate_relay_published_total",
    help: "Order events the relay published to Kafka",
    registers,
  });
  const expired = new Counter({ name: "flux_gate_holds_expired_total", help: "Holds the sweeper expired", registers });
  const forgotten = new Counter({
    name: "flux_gate_retention_forgotten_total",
    help: "What the retention sweep removed from Redis: ended orders PostgreSQL holds (a tombstone stays), settled allocation change ids",
    labelNames: ["kind"],
    registers,
  });

  return {
    reservation: (outcome: string) => reservations.inc({ outcome }),
    published(messages: number, seconds: number) {
      published.inc(messages);
      publish.observe(seconds);
    },
    expired: (count: number) => count > 0 && expired.inc(count),
    forgotten(orders: number, changes: number) {
      forgotten.inc({ kind: "order" }, orders);
      forgotten.inc({ kind: "allocation_change" }, changes);
    },
  };
}
