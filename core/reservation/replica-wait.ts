/**
 * `WAIT 1` shared by the reservations that need it at once: one WAIT covers every write sent
 * before it on its connection, so a reservation whose write was answered waits for a WAIT sent
 * after that — the one on its way if none is (a new one), else the next, which every reservation
 * that came meanwhile shares. A burst of N reservations costs two WAITs, not N, each of which
 * holds its connection until a replica confirms. Pure: `send` is the WAIT.
 */
export function sharedWait(send: () => Promise<number>): () => Promise<number> {
  let inFlight: Promise<number> | undefined;
  let next: Promise<number> | undefined;
  const start = () => {
    const wait = send().finally(() => {
      if (inFlight === wait) inFlight = undefined;
    });
    inFlight = wait;
    return wait;
  };
  return () => {
    if (!inFlight) return start();
    // The one on its way may have left before this reservation's write: the next one did not.
    next ??= inFlight
      .catch(() => {})
      .then(() => {
        next = undefined;
        return start();
      });
    return next;
  };
}
