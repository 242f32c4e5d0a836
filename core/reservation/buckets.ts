/**
 * Hot-product buckets: a product split into B buckets per region, each with keys of its own hash
 * tag, so a cluster spreads one product's orders over several masters. A bucket is addressed as a
 * product of its own (`product#b`, shared/keys.ts; bucket 0 is the product itself), so every
 * script runs on it unchanged. Pure.
 */
import { bucketId } from "../../shared/keys.ts";

/** Every bucket of a product split into `buckets`. */
export const bucketIds = (productId: string, buckets: number) =>
  Array.from({ length: buckets }, (_, b) => bucketId(productId, b));

/** 32-bit FNV-1a: a stable spread of ids over buckets, the same on every core. */
function hash(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}

/** `count` buckets in turn, starting at the one `key` hashes to. */
export function bucketsFrom(key: string, count: number): number[] {
  const first = hash(key) % count;
  return Array.from({ length: count }, (_, i) => (first + i) % count);
}

/** `units` over `buckets`, as evenly as whole units go (the first ones take the remainder). */
export function spreadUnits(units: number, buckets: number): number[] {
  const each = Math.floor(units / buckets);
  return Array.from({ length: buckets }, (_, b) => each + (b < units % buckets ? 1 : 0));
}

/** The part of allocation change `changeId` that bucket `bucket` applies (or, `undo`, gives back). */
export const bucketChangeId = (changeId: string, bucket: number, { undo = false } = {}) =>
  `${changeId}#${bucket}${undo ? ":undo" : ""}`;

/** The allocation change a bucket's part belongs to. */
export const changeOfPart = (partId: string) => partId.replace(/#\d+(:undo)?$/, "");
