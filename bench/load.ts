/**
 * Load for the benchmark: autocannon, fed with signed reservation requests, each with its own
 * order id, so every request is a real reservation and none a replay.
 */
import autocannon from "autocannon";
import { signRequest } from "../shared/signing.ts";

export interface LoadOptions {
  url: string;
  secret: string;
  productId: string;
  region: string;
  seconds: number;
  connections: number;
  /** Offered requests per second; omitted: as fast as the server answers. */
  rate?: number;
}

export interface LoadResult {
  /** 2xx answers per second. */
  rps: number;
  p50: number;
  p99: number;
  non2xx: number;
  errors: number;
}

const PATH = "/v1/reservations";

export async function runLoad(options: LoadOptions): Promise<LoadResult> {
  let sent = 0;
  const result = await autocannon({
    url: options.url + PATH,
    method: "POST",
    connections: options.connections,
    duration: options.seconds,
    ...(options.rate ? { overallRate: options.rate } : {}),
    requests: [
      {
        // Signed as it is sent: a fresh timestamp and a new order id for every request.
        setupRequest: (request) => {
          const body = JSON.stringify({
            orderId: crypto.randomUUID(),
            userId: `bench-user-${sent++ % 100_000}`,
            productId: options.productId,
            quantity: 1,
            originRegion: options.region,
          });
          const headers = { "content-type": "application/json", ...signRequest(options.secret, "POST", PATH, body) };
          return { ...request, method: "POST", path: PATH, body, headers };
        },
      },
    ],
  });
  const ok = result["2xx"];
  return { rps: ok / options.seconds, p50: result.latency.p50, p99: result.latency.p99, non2xx: result.non2xx, errors: result.errors };
}
