/**
 * One JSON line per event, so logs can be searched by field. Apart from process.ts, whose
 * argument parsing and signals are Bun's: the edge writes these lines on Workers and Deno too.
 */

/** `region`: the region the process serves; the edge serves them all and names none. */
export function logger(component: string, region?: string) {
  const write =
    (level: string) =>
    (message: string, fields: Record<string, unknown> = {}) =>
      console.log(JSON.stringify({ time: new Date().toISOString(), level, component, region, message, ...fields }));
  return { info: write("info"), warn: write("warn"), error: write("error") };
}

export type Logger = ReturnType<typeof logger>;
