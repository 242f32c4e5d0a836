/** The worker's metrics: batches, PostgreSQL apply time, dead letters and the consumer lag. */
import { Counter, Gauge, Histogram, type Registry } from "prom-client";
import { secondsHistogram } from "../shared/metrics.ts";

export function workerMetrics(registry: Registry, lag: () => Promise<{ partition: number; lag: number }[]>) {
  const registers = [registry];
  const batchSize = new Histogram({
    name: "flux_gate_worker_batch_size",
    help: "Messages per batch applied in one transaction",
    buckets: [1, 10, 50, 100, 250, 500, 1000, 2000, 5000],
    registers,
  });
  const apply = secondsHistogram(
    registry,
    "flux_gate_worker_apply_duration_seconds",
    "One batch's PostgreSQL transaction (and dead-lettering), retries included",
  );
  const applied = new Counter({
    name: "flux_gate_worker_events_applied_total",
    help: "Order events applied to PostgreSQL",
    registers,
  });
  const deadLettered = new Counter({
    name: "flux_gate_worker_dead_lettered_total",
    help: "Messages set aside on the dead-letter topic",
    registers,
  });
  new Gauge({
    name: "flux_gate_worker_consumer_lag",
    help: "Messages on the region's topic not yet committed by the worker group, per partition",
    labelNames: ["partition"],
    registers,
    // Kafka unreachable: the lag is NaN (unknown, not 0), and the rest of the scrape still answers.
    async collect() {
      this.reset();
      const partitions = await lag().catch(() => undefined);
      if (!partitions) this.set({ partition: "unknown" }, Number.NaN);
      for (const p of partitions ?? []) this.set({ partition: String(p.partition) }, p.lag);
    },
  });

  return {
    batch(outcome: { size: number; applied: number; deadLettered: number; seconds: number }) {
      batchSize.observe(outcome.size);
      apply.observe(outcome.seconds);
      applied.inc(outcome.applied);
      deadLettered.inc(outcome.deadLettered);
    },
  };
}
