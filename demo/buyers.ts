/**
 * Buyers hammering the edge: each wants one order, from a country and an address of its own
 * (a few buyers share an address, as behind a carrier NAT), and retries as a well-behaved
 * client does: after Retry-After on 429, 503 and 409 idempotency_key_in_use, with the same
 * Idempotency-Key.
 */
export interface BuyerResult {
  status: number;
  code?: string;
  /** Latency of each request the buyer sent, in ms. */
  latenciesMs: number[];
  orderId?: string;
}

export interface BuyersOptions {
  edgeUrl: string;
  productId: string;
  buyers: number;
  concurrency: number;
  /** Buyers behind one address: the per-address rate limit counts them together. */
  buyersPerAddress: number;
  /** Who the buyer is, as the edge expects it (a development header or a JWT). */
  identity: (userId: string) => Promise<Record<string, string>>;
  /**
   * Where buyer `i` orders, and as whom, when not every buyer goes to `edgeUrl` as themselves
   * (`--wan`: each side's buyers to their side's edge, some with a home named, demo/wan.ts).
   */
  route?: (i: number, userId: string) => { edgeUrl: string; userId: string; headers: Record<string, string> };
  /**
   * Called after every request (with the buyer's index, and the region that took the order when
   * it was accepted) and after every buyer, for the live line.
   */
  onRequest: (status: number, code: string | undefined, ms: number, buyer: number, region?: string) => void;
  onBuyer: (result: BuyerResult) => void;
}

/** Several countries, so that orders start in both regions and spill over between them. */
export const COUNTRIES = ["US", "DE", "BR", "FR", "CA", "GB", "JP", "ES", "MX", "NL"];
const MAX_TRIES = 4;
const MAX_WAIT_MS = 2_000;

export async function runBuyers(o: BuyersOptions): Promise<BuyerResult[]> {
  const runId = Date.now().toString(36);
  const results: BuyerResult[] = [];
  let next = 0;
  async function buyer(i: number): Promise<BuyerResult> {
    const routed = o.route?.(i, `demo-${runId}-${i}`);
    const userId = routed?.userId ?? `demo-${runId}-${i}`;
    const edgeUrl = routed?.edgeUrl ?? o.edgeUrl;
    const address = Math.floor(i / o.buyersPerAddress);
    const headers = {
      "Content-Type": "application/json",
      "Idempotency-Key": crypto.randomUUID(),
      "CF-IPCountry": COUNTRIES[i % COUNTRIES.length]!,
      "X-Forwarded-For": `10.${(address >> 16) & 255}.${(address >> 8) & 255}.${address & 255}`,
      ...(await o.identity(userId)),
      ...routed?.headers,
    };
    // Quantity varies apart from the country, so neither region gets all the pairs.
    const body = JSON.stringify({ productId: o.productId, quantity: 1 + (Math.floor(i / COUNTRIES.length) % 2) });
    const latenciesMs: number[] = [];
    for (let attempt = 1; ; attempt++) {
      const started = performance.now();
      const response = await fetch(`${edgeUrl}/v1/orders`, { method: "POST", headers, body }).catch(() => undefined);
      const ms = performance.now() - started;
      latenciesMs.push(ms);
      const answer = ((await response?.json().catch(() => ({}))) ?? {}) as {
        code?: string;
        orderId?: string;
        region?: string;
      };
      const status = response?.status ?? 0;
      o.onRequest(status, answer.code, ms, i, status === 202 ? answer.region : undefined);
      // 409 idempotency_key_in_use is "not yet", not a refusal: this key's earlier try is still
      // in flight, and the answer says when to ask again.
      const retry = status === 429 || status === 503 || status === 0 || answer.code === "idempotency_key_in_use";
      if (!retry || attempt === MAX_TRIES)
        return { status, code: answer.code, latenciesMs, orderId: status === 202 ? answer.orderId : undefined };
      const after = Number(response?.headers.get("Retry-After") ?? 1) * 1000;
      await Bun.sleep(Math.min(Number.isFinite(after) ? after : 1_000, MAX_WAIT_MS));
    }
  }
  await Promise.all(
    Array.from({ length: Math.min(o.concurrency, o.buyers) }, async () => {
      while (next < o.buyers) {
        const result = await buyer(next++);
        results.push(result);
        o.onBuyer(result);
      }
    }),
  );
  return results;
}
