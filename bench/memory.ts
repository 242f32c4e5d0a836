/**
 * What an order costs a region's Redis: live (reserved, held), and ended once the retention
 * sweep has forgotten it (its tombstone included), and a soak of many orders through one core
 * with a short retention, whose memory should level off, not grow with every order.
 *
 * Orders come from a fixed set of buyers who have each ordered before the measurement starts:
 * a buyer's counter (units per product and region) lives as long as the sale and is a cost per
 * buyer, not per order.
 */
import { parseInfo } from "../core/reservation/redis-info.ts";
import { productKeys } from "../shared/keys.ts";
import type { Redis } from "../shared/redis.ts";
import { waitUntil } from "../stack/process.ts";
import { coreReservation, runLoad } from "./load.ts";

export interface MemoryBench {
  redis: Redis;
  region: string;
  coreUrl: string;
  coreSecret: string;
  connections: number;
  /** A product on sale in the region with plenty of units: held for `holdSeconds`, or sold at once (0). */
  newProduct(holdSeconds: number): Promise<string>;
  /** Orders of the product that PostgreSQL holds. */
  stored(productId: string): Promise<number>;
  progress(message: string): void;
}

/** The buyers of the memory runs. */
const BUYERS = 1_000;

export const usedMemory = async (redis: Redis) => Number(parseInfo(await redis.info("memory")).used_memory);

/** `count` orders of `productId`, as fast as the core takes them. */
async function place(bench: MemoryBench, productId: string, count: number) {
  const request = coreReservation(bench.coreSecret, [productId], bench.region, BUYERS);
  const result = await runLoad({
    url: bench.coreUrl,
    connections: bench.connections,
    seconds: 3_600,
    amount: count,
    request,
  });
  if (result.non2xx > 0 || result.errors > 0)
    throw new Error(`the core refused ${result.non2xx} and failed ${result.errors} of ${count} orders`);
  return result;
}

/**
 * Waits until the product's outbox is empty, PostgreSQL holds its `orders`, and, for a
 * product whose orders end at once, the retention sweep has forgotten them all.
 */
async function settled(bench: MemoryBench, productId: string, orders: number, ended: boolean) {
  const keys = productKeys(bench.region, productId);
  const done = await waitUntil(
    async () =>
      (await bench.redis.xlen(keys.outbox)) === 0 &&
      (await bench.stored(productId)) >= orders &&
      (!ended || (await bench.redis.zcard(keys.ended)) === 0),
    600_000,
    250,
  );
  if (!done)
    throw new Error(`${productId}: the outbox, the worker or the retention sweep did not settle in 10 minutes`);
}

/** Bytes of Redis per live order and per ended (forgotten) order, over `count` of each. */
export async function memoryPerOrder(bench: MemoryBench, count: number) {
  const live = await bench.newProduct(600);
  const ended = await bench.newProduct(0);
  bench.progress(
    `memory: every buyer orders once (${BUYERS} buyers), then ${count.toLocaleString("en")} live and ${count.toLocaleString("en")} ended orders`,
  );
  for (const [productId, isEnded] of [
    [live, false],
    [ended, true],
  ] as const) {
    await place(bench, productId, BUYERS);
    await settled(bench, productId, BUYERS, isEnded);
  }
  const before = await usedMemory(bench.redis);
  await place(bench, live, count);
  await settled(bench, live, BUYERS + count, false);
  const afterLive = await usedMemory(bench.redis);
  await place(bench, ended, count);
  bench.progress("memory: waiting for PostgreSQL to hold the ended orders and for the retention sweep to forget them");
  await settled(bench, ended, BUYERS + count, true);
  const afterEnded = await usedMemory(bench.redis);
  return {
    redis_bytes_per_live_order: Math.round((afterLive - before) / count),
    redis_bytes_per_ended_order: Math.round((afterEnded - afterLive) / count),
  };
}

/**
 * `total` orders that sell at once, in chunks of `chunk`, through the core (whose retention is
 * short); Redis's memory after each chunk. Returns the samples, in MB.
 */
export async function soak(bench: MemoryBench, total: number, chunk: number) {
  const productId = await bench.newProduct(0);
  const samples: { orders: number; usedMb: number; rps: number }[] = [];
  for (let placed = 0; placed < total; placed += chunk) {
    const result = await place(bench, productId, chunk);
    const usedMb = (await usedMemory(bench.redis)) / 2 ** 20;
    samples.push({ orders: placed + chunk, usedMb: Number(usedMb.toFixed(1)), rps: Math.round(result.rps) });
    bench.progress(
      `soak: ${(placed + chunk).toLocaleString("en")} of ${total.toLocaleString("en")} orders, Redis uses ${usedMb.toFixed(1)} MB (${Math.round(result.rps)} orders/s)`,
    );
  }
  return samples;
}
