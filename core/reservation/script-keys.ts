/**
 * The keys and arguments every order script takes first and last (common.lua reads them by
 * place): the one spot that says which of a product's keys (shared/keys.ts) go where.
 */
import { IDEMPOTENCY_WINDOW_MS } from "../../shared/config.ts";
import { orderKey, productKeys } from "../../shared/keys.ts";

/** KEYS 1–5 of every order script. */
export function productScriptKeys(region: string, productId: string): string[] {
  const k = productKeys(region, productId);
  return [k.product, k.users, k.holds, k.outbox, k.ended];
}

/** KEYS 1–6 of a script on one order (confirm.lua, cancel.lua). */
export function orderScriptKeys(region: string, productId: string, orderId: string): string[] {
  return [...productScriptKeys(region, productId), orderKey(region, productId, orderId)];
}

/** The last three ARGV of every order script. */
export function scriptTail(region: string, productId: string): (string | number)[] {
  const k = productKeys(region, productId);
  return [k.orderPrefix, k.tombstonePrefix, IDEMPOTENCY_WINDOW_MS];
}
