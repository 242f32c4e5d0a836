/** A product's counters read from Redis or the core's JSON, and summed over a split product's buckets. Pure. */
import type { Stock } from "./types.ts";

/** Counters as Redis and the core's JSON give them (strings or numbers), as numbers. */
export const stockOf = ([allocated, available, held, sold]: unknown[]): Stock => ({
  allocated: Number(allocated),
  available: Number(available),
  held: Number(held),
  sold: Number(sold),
});

export const sumStocks = (stocks: Stock[]): Stock =>
  stocks.reduce(
    (a, b) => ({
      allocated: a.allocated + b.allocated,
      available: a.available + b.available,
      held: a.held + b.held,
      sold: a.sold + b.sold,
    }),
    { allocated: 0, available: 0, held: 0, sold: 0 },
  );
