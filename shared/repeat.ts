/**
 * Runs `pass` over and over, `intervalMs` apart, never two at once: the shape of every
 * background job (the retention sweep, the admin's resumer). `pass` handles its own errors.
 * `stop()` cuts the wait short and resolves once the pass under way has finished.
 */
export function repeat(intervalMs: number, pass: () => Promise<void>): { stop(): Promise<void> } {
  let running = true;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let wake = () => {};
  const loop = (async () => {
    while (running) {
      await pass();
      if (!running) break;
      await new Promise<void>((resolve) => {
        wake = resolve;
        timer = setTimeout(resolve, intervalMs);
      });
    }
  })();
  return {
    async stop() {
      running = false;
      clearTimeout(timer);
      wake();
      await loop;
    },
  };
}
