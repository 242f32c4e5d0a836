/**
 * A buyer's home region: where their idempotency records, rate-limit windows and allowances
 * live. A hash of the user id, so every edge (and the allowance consumer) picks the same one
 * without a lookup. FNV-1a: the same on every runtime, and a fraction of SHA-256's cost on the
 * order path; an even spread is all it must give. Changing the list of regions moves buyers'
 * homes: do it between sales.
 */
export function homeRegion(userId: string, regionIds: readonly string[]): string {
  let hash = 0x811c9dc5;
  for (let i = 0; i < userId.length; i++) {
    hash ^= userId.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return regionIds[(hash >>> 0) % regionIds.length]!;
}
