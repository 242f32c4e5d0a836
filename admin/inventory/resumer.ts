/**
 * Picks up moves left unfinished (a crashed admin process, a core that was down) and drives
 * them on. Safe beside a request driving the same move: every step applies once.
 */
import type { Transfer } from "./ledger.ts";
import { drive, type MoveDeps } from "./moves.ts";

export function startResumer(deps: MoveDeps, intervalMs: number, onError: (error: unknown, transfer?: Transfer) => void) {
  let stopped = false;
  let wake: (() => void) | undefined;
  const done = (async () => {
    while (!stopped) {
      try {
        for (const transfer of await deps.ledger.unfinished(intervalMs)) {
          if (stopped) break;
          await drive(deps, transfer).catch((error: unknown) => onError(error, transfer));
        }
      } catch (error) {
        onError(error);
      }
      await new Promise<void>((resolve) => {
        wake = resolve;
        setTimeout(resolve, intervalMs);
      });
    }
  })();
  return {
    async stop() {
      stopped = true;
      wake?.();
      await done;
    },
  };
}
