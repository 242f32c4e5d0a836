/** Which region serves a request, and in which order the others are tried. Pure. */

/**
 * Regions in order of preference: an explicit `X-Region` that names a region goes first, then
 * the country's preference list, then `*`'s; every region appears once.
 */
export function regionOrder(
  table: Record<string, string[]>,
  regionIds: string[],
  { country, region }: { country?: string | null; region?: string | null },
): string[] {
  const preferred = [
    ...(region && regionIds.includes(region) ? [region] : []),
    ...(country ? (table[country.toUpperCase()] ?? []) : []),
    ...(table["*"] ?? []),
    ...regionIds,
  ];
  return [...new Set(preferred)];
}

/** Refusals after which another region may still serve the order: no units (left) here. */
export const SPILLOVER_CODES = new Set(["sold_out", "insufficient_stock", "unknown_product"]);

/**
 * Where a retry of an unsettled order goes: the last region tried first (the only one that may
 * hold it: the earlier ones answered "none left"), then the regions never tried, in this
 * request's order. Regions tried and refused are not asked again.
 */
export function resumeOrder(tried: string[], preferred: string[]): string[] {
  const uncertain = tried.at(-1);
  const untried = preferred.filter((id) => !tried.includes(id));
  return uncertain && preferred.includes(uncertain) ? [uncertain, ...untried] : untried;
}
