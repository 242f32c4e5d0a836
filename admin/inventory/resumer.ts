/**
 * Picks up moves left unfinished (a crashed admin process, a core that was down) and drives
 * them on. Safe beside a request driving the same move: every step applies once.
 */
import { repeat } from "../../shared/repeat.ts";
import type { Transfer } from "./ledger.ts";
import { drive, type MoveDeps } from "./moves.ts";

export function startResumer(
  deps: MoveDeps,
  intervalMs: number,
  onError: (error: unknown, transfer?: Transfer) => void,
) {
  let stopped = false;
  const loop = repeat(intervalMs, async () => {
    try {
      for (const transfer of await deps.ledger.unfinished(intervalMs)) {
        if (stopped) break;
        await drive(deps, transfer).catch((error: unknown) => onError(error, transfer));
      }
    } catch (error) {
      onError(error);
    }
  });
  return {
    async stop() {
      stopped = true;
      await loop.stop();
    },
  };
}
