/**
 * The client's address, for the per-IP rate limit: a header a client writes is never taken at
 * its word. On Cloudflare, CF-Connecting-IP (Cloudflare sets it and drops the client's own);
 * elsewhere the socket's peer, unless `trustedProxies` proxies stand in front of the edge:
 * then the entry that the first of them appended to X-Forwarded-For, counted from the right
 * (what a client wrote sits to the left of it).
 */
export interface AddressSources {
  onCloudflare: boolean;
  cfConnectingIp?: string;
  forwardedFor?: string;
  /** The socket's peer, as the runtime gives it. */
  socket?: string;
  trustedProxies: number;
}

/** Pure. "unknown" when the runtime gives no address (all such clients then share one window). */
export function clientAddress({
  onCloudflare,
  cfConnectingIp,
  forwardedFor,
  socket,
  trustedProxies,
}: AddressSources): string {
  if (onCloudflare) return cfConnectingIp ?? "unknown";
  if (trustedProxies === 0) return socket ?? "unknown";
  const hops = (forwardedFor ?? "")
    .split(",")
    .map((hop) => hop.trim())
    .filter((hop) => hop !== "");
  return hops[Math.max(0, hops.length - trustedProxies)] ?? socket ?? "unknown";
}

/**
 * The socket's peer for `EdgeEnv.clientAddress`, read on the first ask and kept: each read is a
 * `getpeername`, and an order never asks (only the per-IP limit does). The app reads it before
 * its first wait on I/O, while the client is surely still there
 * (tests/edge/client-address.test.ts): once it hangs up, Bun no longer knows the peer.
 */
export function peerOnDemand(read: () => string | undefined): { readonly clientAddress: string | undefined } {
  let peer: { address: string | undefined } | undefined;
  return {
    get clientAddress() {
      peer ??= { address: read() };
      return peer.address;
    },
  };
}
