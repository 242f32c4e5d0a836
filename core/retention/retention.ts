/**
 * The retention sweep keeps a region's Redis bounded. An order that ended (confirmed, cancelled,
 * expired) more than `retentionMs` ago and that PostgreSQL holds leaves Redis, a tombstone
 * keeping its outcome for the idempotency window (forget.lua); an allocation change id leaves
 * once it is as old and the ledger has settled its transfer. Small batches, one script each,
 * so the region's requests never wait behind it; any number of cores may sweep side by side.
 */
import { repeat } from "../../shared/repeat.ts";
import type { Records } from "../records.ts";
import { changeOfPart } from "../reservation/buckets.ts";
import type { RetentionStore } from "../reservation/retention-store.ts";

export interface RetentionOptions {
  store: RetentionStore;
  records: Records;
  /** How long an ended order stays in Redis after it ended (ms). */
  retentionMs: number;
  /** Pause between passes (ms). */
  intervalMs: number;
  /** Orders per PostgreSQL query and per script. */
  batchSize?: number;
  onError?: (error: unknown) => void;
  /** After each pass: the orders and allocation change ids it forgot. */
  onPass?: (orders: number, changes: number) => void;
}

export interface Retention {
  /** One pass over every product of the region; returns the orders and change ids forgotten. */
  sweep(): Promise<{ orders: number; changes: number }>;
  stop(): Promise<void>;
}

export function startRetention({
  store,
  records,
  retentionMs,
  intervalMs,
  batchSize = 200,
  onError = () => {},
  onPass = () => {},
}: RetentionOptions): Retention {
  async function forgetOrders(productId: string, cutoff: number, ended: string[]): Promise<number> {
    let total = 0;
    for (;;) {
      if (ended.length === 0) return total;
      const forgotten = (await store.forget(productId, await records.storedOrders(ended))).length;
      total += forgotten;
      // Stop at orders PostgreSQL does not hold yet: the next pass tries them again.
      if (forgotten === 0 || ended.length < batchSize) return total;
      ended = await store.endedBefore(productId, cutoff, batchSize);
    }
  }

  /** A split product's buckets keep parts of a change (`<change>#<bucket>`): they go with the change. */
  async function forgetChanges(productId: string, changes: string[]): Promise<number> {
    const settled = new Set(await records.settledChanges([...new Set(changes.map(changeOfPart))]));
    const forgotten = changes.filter((id) => settled.has(changeOfPart(id)));
    await store.forgetChanges(productId, forgotten);
    return forgotten.length;
  }

  async function sweep() {
    const cutoff = Date.now() - retentionMs;
    let orders = 0;
    let changes = 0;
    // One round trip finds the products with anything to forget; most have nothing.
    for (const { productId, ended, changeIds } of await store.retained(cutoff, batchSize)) {
      orders += await forgetOrders(productId, cutoff, ended);
      if (changeIds.length > 0) changes += await forgetChanges(productId, changeIds);
    }
    return { orders, changes };
  }

  const loop = repeat(intervalMs, async () => {
    try {
      const { orders, changes } = await sweep();
      onPass(orders, changes);
    } catch (error) {
      onError(error);
    }
  });

  return {
    sweep,
    stop: loop.stop,
  };
}
