/** What a region's Redis says of itself (`INFO`), and how it refuses a write once it is full. Pure. */

/** `INFO`'s `field:value` lines as a record. */
export function parseInfo(text: string): Record<string, string> {
  return Object.fromEntries(
    text
      .split(/\r?\n/)
      .filter((line) => line.includes(":") && !line.startsWith("#"))
      .map((line) => [line.slice(0, line.indexOf(":")), line.slice(line.indexOf(":") + 1)]),
  );
}

/** Redis's refusal of a write past `maxmemory` under `noeviction`. */
export const isOutOfMemory = (error: unknown) => String(error).includes("OOM command not allowed");
