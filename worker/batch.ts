/**
 * The worker's batch handler: decode, persist, dead-letter. It returns only once the batch is
 * safely in PostgreSQL (or the dead-letter topic); until then it retries with backoff, so a
 * database outage pauses the partition instead of skipping or blocking it for good.
 */
import type { Database } from "../db/client.ts";
import type { BatchContext, IdempotentProducer, IncomingMessage } from "../shared/kafka.ts";
import { feedAllowances } from "./allowance.ts";
import { deadLetter } from "./dead-letter.ts";
import { persist } from "./persist.ts";
import { decode } from "./plan.ts";

export interface WorkerOptions {
  db: Database;
  producer: IdempotentProducer;
  deadLetterTopic: string;
  /**
   * Every region's id: the batch's expiry and cancel events go to their buyers' homes'
   * allowance topics first (worker/allowance.ts). Absent: no feed.
   */
  regionIds?: readonly string[];
  onRetry?: (error: unknown, attempt: number) => void;
  /** One attempt has run for STUCK_AFTER_MS: see `untilApplied`. */
  onStuck?: () => void;
  /** After each batch: its size, what was applied and set aside, and how long it took. */
  onApplied?: (outcome: { size: number; applied: number; deadLettered: number; seconds: number }) => void;
}

const MAX_BACKOFF_MS = 5_000;
/**
 * An attempt this long has not failed, it hangs: postgres.js 3.4.9 can leave a query pending for
 * good when a server (PgBouncer restarting) closes the connection during its start-up
 * (porsager/postgres#1193). The worker then exits, and its supervisor starts a fresh one; the
 * batch, never committed, comes again.
 */
export const STUCK_AFTER_MS = 30_000;

export function batchHandler({
  db,
  producer,
  deadLetterTopic,
  regionIds,
  onRetry = () => {},
  onStuck,
  onApplied = () => {},
}: WorkerOptions) {
  return async (batch: IncomingMessage[], context: BatchContext): Promise<void> => {
    const started = performance.now();
    const decoded = decode(batch);
    const { events, poison } = decoded;
    // Before PostgreSQL: an outage there does not hold buyers' allowances back. Apart from the
    // write below, so that its retries do not feed the same events again and again.
    if (regionIds)
      await untilApplied(context, onRetry, { onStuck }, () => feedAllowances(producer, decoded, regionIds));
    await untilApplied(context, onRetry, { onStuck }, async () => {
      const refused = await persist(db, events, { heartbeat: () => context.heartbeat().catch(() => {}) });
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

/**
 * Runs `apply` until it succeeds, backing off and keeping the group membership alive meanwhile;
 * `onStuck` once an attempt has run `stuckAfterMs` without an answer.
 */
export async function untilApplied(
  { heartbeat }: BatchContext,
  onRetry: (error: unknown, attempt: number) => void,
  { onStuck, stuckAfterMs = STUCK_AFTER_MS }: { onStuck?: () => void; stuckAfterMs?: number },
  apply: () => Promise<unknown>,
): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      const running = apply();
      let timer: ReturnType<typeof setTimeout> | undefined;
      const stuck = new Promise<void>((resolve) => {
        if (onStuck) timer = setTimeout(resolve, stuckAfterMs);
      }).then(() => onStuck?.());
      await Promise.race([running, stuck]).finally(() => clearTimeout(timer));
      await running;
      return;
    } catch (error) {
      onRetry(error, attempt);
      await Bun.sleep(Math.min(100 * 2 ** attempt, MAX_BACKOFF_MS));
      await heartbeat().catch(() => {});
    }
  }
}
