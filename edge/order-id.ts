/**
 * The order id is derived from the client and its Idempotency-Key, so a retry lands on the
 * same reservation at any layer, even after the edge lost its own record of the first try.
 */
import { createHmac } from "node:crypto";

/** A UUID (version 8, RFC 9562: custom) from HMAC-SHA256(secret, client \n key). */
export function deriveOrderId(secret: string, clientId: string, idempotencyKey: string): string {
  const bytes = createHmac("sha256", secret).update(`${clientId}\n${idempotencyKey}`).digest().subarray(0, 16);
  bytes[6] = (bytes[6]! & 0x0f) | 0x80;
  bytes[8] = (bytes[8]! & 0x3f) | 0x80;
  const hex = bytes.toString("hex");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
