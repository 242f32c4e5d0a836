/**
 * The demo's live line. Hand-written rather than a progress-bar library: it is one line of
 * counters redrawn in place on a terminal (or printed once a second when stderr is a file).
 */
export interface Tally {
  buyersDone: number;
  buyers: number;
  requests: number;
  accepted: number;
  soldOut: number;
  rateLimited: number;
  failed: number;
  p99Ms: number | null;
}

const WIDTH = 24;

export function progressLine(t: Tally): string {
  const filled = t.buyers === 0 ? WIDTH : Math.round((WIDTH * t.buyersDone) / t.buyers);
  const bar = `${"█".repeat(filled)}${"░".repeat(WIDTH - filled)}`;
  const p99 = t.p99Ms === null ? "–" : `${t.p99Ms.toFixed(0)} ms`;
  return `${bar} ${t.buyersDone}/${t.buyers} buyers · ${t.requests} requests · ${t.accepted} accepted · ${t.soldOut} sold out · ${t.rateLimited} × 429 · ${t.failed} failed · p99 ${p99}`;
}

/** The q-quantile (0..1) of `values`, nearest rank; null when there are none. */
export function quantile(values: number[], q: number): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}
