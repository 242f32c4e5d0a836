/**
 * The worker's batch handler: decode, persist, dead-letter. It returns only once the batch is
 * safely in PostgreSQL (or the dead-letter topic); until then it retries with backoff, so a
 * database outage pauses the partition instead of skipping or blocking it for good.
 */
import type { Database } from "../db/client.ts";
import type { BatchContext, IdempotentProducer, IncomingMessage } from "../shared/kafka.ts";
import { deadLetter } from "./dead-letter.ts";
import { persist } from "./persist.ts";
import { decode } from "./plan.ts";

export interface WorkerOptions {
  db: Database;
  producer: IdempotentProducer;
  deadLetterTopic: string;
  onRetry?: (error: unknown, attempt: number) => void;
  /** After each batch: its size, what was applied and set aside, and how long it took. */
  onApplied?: (outcome: { size: number; applied: number; deadLettered: number; seconds: number }) => void;
}

const MAX_BACKOFF_MS = 5_000;

export function batchHandler({
  db,
  producer,
  deadLetterTopic,
  onRetry = () => {},
  onApplied = () => {},
}: WorkerOptions) {
  return async (batch: IncomingMessage[], context: BatchContext): Promise<void> => {
    const started = performance.now();
    const { events, poison } = decode(batch);
    await untilApplied(context, onRetry, async () => {
      const refused = await persist(db, events);
      const rejected = [...poison, ...refused.map((r) => ({ message: r.item.message, reason: r.reason }))];
      await deadLetter(producer, deadLetterTopic, rejected);
      onApplied({
        size: batch.length,
        applied: events.length - refused.length,
        deadLettered: rejected.length,
        seconds: (performance.now() - started) / 1000,
      });
    });
  };
}

/** Runs `apply` until it succeeds, backing off and keeping the group membership alive meanwhile. */
export async function untilApplied(
  { heartbeat }: BatchContext,
  onRetry: (error: unknown, attempt: number) => void,
  apply: () => Promise<unknown>,
): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await apply();
      return;
    } catch (error) {
      onRetry(error, attempt);
      await Bun.sleep(Math.min(100 * 2 ** attempt, MAX_BACKOFF_MS));
      await heartbeat().catch(() => {});
    }
  }
}
