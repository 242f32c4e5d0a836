/**
 * Work an answer leaves behind (storing the outcome under its Idempotency-Key), for Bun and
 * Deno: what `ctx.waitUntil` is on Workers, tracked so that a shutdown finishes it first.
 */
import type { ExecutionContext } from "hono";

export function backgroundWork() {
  const pending = new Set<Promise<unknown>>();
  const context: ExecutionContext = {
    waitUntil(work) {
      pending.add(work);
      void work.finally(() => pending.delete(work));
    },
    passThroughOnException() {},
    props: {},
  };
  return {
    context,
    /** Resolves once everything started so far has finished. */
    async flush(): Promise<void> {
      while (pending.size > 0) await Promise.allSettled([...pending]);
    },
  };
}
