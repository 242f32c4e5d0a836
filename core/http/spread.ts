/**
 * Which of a region's cores to call: each in turn, but not one that refused a connection within
 * the last `restMs` (it is down or restarting) while another may answer. Pure; the clock is given.
 */
export interface CoreSpread {
  /** The cores to try for one call, in order: the next in turn first, those resting last. */
  order(): string[];
  /** `url` refused a connection: rest it. */
  refused(url: string): void;
}

export function spreadOver(urls: string[], now: () => number = Date.now, restMs = 5_000): CoreSpread {
  const restingUntil = new Map<string, number>();
  let turn = 0;
  return {
    order() {
      const start = turn++ % urls.length;
      const rotated = [...urls.slice(start), ...urls.slice(0, start)];
      const at = now();
      const rests = (url: string) => (restingUntil.get(url) ?? 0) > at;
      return [...rotated.filter((u) => !rests(u)), ...rotated.filter(rests)];
    },
    refused(url) {
      restingUntil.set(url, now() + restMs);
    },
  };
}
