/**
 * Load for the benchmark: autocannon, with every request built as it is sent (a new order id,
 * a fresh signature or idempotency key), so every request is a real reservation, none a replay.
 */
import autocannon from "autocannon";
import { signRequest } from "../shared/signing.ts";

export interface LoadOptions {
  url: string;
  /** How long to run; with `amount`, the most it may take. */
  seconds: number;
  /** Stop after this many requests instead. */
  amount?: number;
  connections: number;
  /** Offered requests per second; omitted: as fast as the server answers. */
  rate?: number;
  /** Builds request number `i`. */
  request: (i: number) => { path: string; body: string; headers: Record<string, string> };
}

export interface LoadResult {
  /** 2xx answers per second. */
  rps: number;
  /** 2xx answers in all. */
  ok: number;
  p50: number;
  p99: number;
  non2xx: number;
  errors: number;
}

const USERS = 100_000;

/**
 * A reservation as the edge sends it to a core: signed, with its own order id; request `i`
 * goes to product `i mod products` for buyer `i mod users`.
 */
export function coreReservation(secret: string, products: string[], region: string, users = USERS) {
  return (i: number) => {
    const path = "/v1/reservations";
    const productId = products[i % products.length];
    const body = JSON.stringify({
      orderId: crypto.randomUUID(),
      userId: `bench-user-${i % users}`,
      productId,
      quantity: 1,
      originRegion: region,
    });
    return { path, body, headers: { "content-type": "application/json", ...signRequest(secret, "POST", path, body) } };
  };
}

/** An order as a client sends it to the edge: its own Idempotency-Key, a development identity. */
export function edgeOrder(productId: string, region: string) {
  return (i: number) => ({
    path: "/v1/orders",
    body: JSON.stringify({ productId, quantity: 1 }),
    headers: {
      "content-type": "application/json",
      "X-User-Id": `bench-user-${i % USERS}`,
      "X-Region": region,
      "Idempotency-Key": crypto.randomUUID(),
    },
  });
}

export async function runLoad(options: LoadOptions): Promise<LoadResult> {
  let sent = 0;
  const result = await autocannon({
    url: options.url,
    method: "POST",
    connections: options.connections,
    duration: options.seconds,
    ...(options.amount ? { amount: options.amount } : {}),
    ...(options.rate ? { overallRate: options.rate } : {}),
    requests: [
      {
        setupRequest: (request) => {
          const { path, body, headers } = options.request(sent++);
          return { ...request, method: "POST", path, body, headers };
        },
      },
    ],
  });
  return {
    rps: result["2xx"] / (options.amount ? result.duration : options.seconds),
    ok: result["2xx"],
    p50: result.latency.p50,
    p99: result.latency.p99,
    non2xx: result.non2xx,
    errors: result.errors,
  };
}
