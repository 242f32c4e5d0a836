/**
 * HMAC-SHA256 request signing between the edge and a regional core. The signature covers the
 * timestamp, method, path and a hash of the body, so a request cannot be replayed later,
 * redirected to another path or given another body. Web Crypto only: runs on Workers, Deno, Bun.
 */
export const TIMESTAMP_HEADER = "X-Flux-Timestamp";
export const SIGNATURE_HEADER = "X-Flux-Signature";
/** How far a signed timestamp may be from the core's clock. */
export const MAX_SKEW_MS = 30_000;

const encoder = new TextEncoder();

function hex(bytes: ArrayBuffer): string {
  return Array.from(new Uint8Array(bytes), (b) => b.toString(16).padStart(2, "0")).join("");
}

function fromHex(text: string): Uint8Array<ArrayBuffer> | undefined {
  if (!/^(?:[0-9a-f]{2})+$/.test(text)) return undefined;
  return Uint8Array.from(text.match(/../g)!, (pair) => Number.parseInt(pair, 16));
}

async function canonical(timestamp: string, method: string, path: string, body: string): Promise<Uint8Array<ArrayBuffer>> {
  const bodyHash = hex(await crypto.subtle.digest("SHA-256", encoder.encode(body)));
  return encoder.encode(`${timestamp}\n${method.toUpperCase()}\n${path}\n${bodyHash}`);
}

const keys = new Map<string, Promise<CryptoKey>>();
function hmacKey(secret: string): Promise<CryptoKey> {
  let key = keys.get(secret);
  if (!key) {
    key = crypto.subtle.importKey("raw", encoder.encode(secret), { name: "HMAC", hash: "SHA-256" }, false, ["sign", "verify"]);
    keys.set(secret, key);
  }
  return key;
}

/** The headers that sign a request for `path` (path and query, as the core sees them). */
export async function signRequest(
  secret: string,
  method: string,
  path: string,
  body = "",
  now = Date.now(),
): Promise<Record<string, string>> {
  const timestamp = String(now);
  const signature = await crypto.subtle.sign("HMAC", await hmacKey(secret), await canonical(timestamp, method, path, body));
  return { [TIMESTAMP_HEADER]: timestamp, [SIGNATURE_HEADER]: hex(signature) };
}

export type Verdict = "valid" | "missing" | "stale" | "bad-signature";

/** Checks a request's signature in constant time (Web Crypto's HMAC verify). */
export async function verifyRequest(
  secret: string,
  request: { method: string; path: string; body: string; timestamp: string | null; signature: string | null },
  now = Date.now(),
): Promise<Verdict> {
  if (!request.timestamp || !request.signature) return "missing";
  const sentAt = Number(request.timestamp);
  if (!/^\d{1,15}$/.test(request.timestamp) || Math.abs(now - sentAt) > MAX_SKEW_MS) return "stale";
  const signature = fromHex(request.signature);
  if (!signature) return "bad-signature";
  const data = await canonical(request.timestamp, request.method, request.path, request.body);
  return (await crypto.subtle.verify("HMAC", await hmacKey(secret), signature, data)) ? "valid" : "bad-signature";
}
