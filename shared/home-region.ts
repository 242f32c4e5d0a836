/**
 * A buyer's home region: where their idempotency records, rate-limit windows and allowances
 * live. A hash of the user id, so every edge (and the allowance consumer) picks the same one
 * without a lookup. Changing the list of regions moves buyers' homes: do it between sales.
 */
import { createHash } from "node:crypto";

export function homeRegion(userId: string, regionIds: readonly string[]): string {
  return regionIds[createHash("sha256").update(userId).digest().readUInt32BE(0) % regionIds.length]!;
}
