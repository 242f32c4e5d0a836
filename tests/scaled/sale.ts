/**
 * A sale on the scaled topology with buyers who retry as a patient client does, and what
 * PostgreSQL and every region's Redis hold after it: the yardstick of the fault tests.
 */
import { inArray } from "drizzle-orm";
import { connectDatabase } from "../../db/client.ts";
import { orders } from "../../db/schema.ts";
import { inventoryServices } from "../../admin/inventory/services.ts";
import { verify } from "../../cli/verify/verify.ts";
import type { Config } from "../../shared/config.ts";
import { waitUntil } from "../../stack/process.ts";

export interface SaleOutcome {
  /** Order ids the edge answered 202 for. */
  accepted: string[];
  /** Buyers whose last answer was neither 202 nor 409 after every retry. */
  failed: { status: number; code?: string }[];
  /** The longest any one request waited for the edge's answer, in ms. */
  slowestMs: number;
}

export interface SaleCheck {
  /** Accepted orders PostgreSQL does not hold once the pipeline drained. */
  lost: string[];
  /** Units held or sold beyond the product's total, in PostgreSQL. */
  oversold: number;
  drifts: string[];
}

const UNHELD = new Set(["cancelled", "expired"]);

export function scaledSale(config: Config) {
  const database = connectDatabase(config.postgres.url, { max: 2 });
  const services = inventoryServices(database.db, config.regions);

  /** A product on sale now with `perRegion` units in every region. */
  async function product(
    perRegion: number,
    { perUserLimit = 2, holdSeconds = 600 }: { perUserLimit?: number; holdSeconds?: number } = {},
  ): Promise<string> {
    const id = `scaled-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 6)}`;
    const created = await services.products.create({
      id,
      name: `Scaled test ${id}`,
      totalUnits: perRegion * config.regions.length,
      startsAt: new Date(Date.now() - 60_000),
      endsAt: new Date(Date.now() + 3_600_000),
      perUserLimit,
      maxPerOrder: 2,
      holdSeconds,
    });
    const allocated = await services.products.setAllocations(
      id,
      Object.fromEntries(config.regions.map((r) => [r.id, perRegion])),
      "scaled-test",
    );
    if (!created.ok || !allocated.ok || allocated.value.some((m) => m.transfer.state !== "completed"))
      throw new Error(`creating ${id} failed: ${JSON.stringify({ created, allocated })}`);
    return id;
  }

  /**
   * `buyers` buyers, `concurrency` at a time, one order of one unit each from alternating
   * countries; each retries 0, 429 and 503 answers with the same Idempotency-Key, after the
   * answer's Retry-After, for up to `patienceMs`. `fault` runs `faultAfterMs` into the sale, while buyers keep coming.
   */
  async function run({
    productId,
    buyers,
    concurrency = 24,
    patienceMs = 60_000,
    fault,
    faultAfterMs = 1_500,
  }: {
    productId: string;
    buyers: number;
    concurrency?: number;
    patienceMs?: number;
    fault: () => Promise<void>;
    faultAfterMs?: number;
  }): Promise<SaleOutcome> {
    const outcome: SaleOutcome = { accepted: [], failed: [], slowestMs: 0 };
    const tag = Date.now().toString(36);
    let next = 0;
    async function buyer(i: number) {
      const headers = {
        "Content-Type": "application/json",
        "Idempotency-Key": crypto.randomUUID(),
        "X-User-Id": `scaled-${tag}-${i}`,
        "CF-IPCountry": i % 2 === 0 ? "US" : "DE",
        "X-Forwarded-For": `10.9.${(i >> 8) & 255}.${i & 255}`,
      };
      const body = JSON.stringify({ productId, quantity: 1 });
      const giveUpAt = Date.now() + patienceMs;
      for (;;) {
        const started = performance.now();
        const response = await fetch(`${config.edge.url}/v1/orders`, { method: "POST", headers, body }).catch(
          () => undefined,
        );
        outcome.slowestMs = Math.max(outcome.slowestMs, performance.now() - started);
        const status = response?.status ?? 0;
        const answer = ((await response?.json().catch(() => ({}))) ?? {}) as { code?: string; orderId?: string };
        if (status === 202) return void outcome.accepted.push(answer.orderId!);
        if (status === 409) return;
        if (Date.now() > giveUpAt) return void outcome.failed.push({ status, code: answer.code });
        // As a well-behaved client: after the answer's Retry-After (1 s when it names none).
        const retryAfter = Number(response?.headers.get("Retry-After") ?? 1);
        await Bun.sleep(Math.min(Number.isFinite(retryAfter) ? retryAfter * 1_000 : 1_000, 2_000));
      }
    }
    const injected = Bun.sleep(faultAfterMs).then(fault);
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (next < buyers) await buyer(next++);
      }),
    );
    await injected;
    return outcome;
  }

  /** Waits for PostgreSQL to hold every accepted order, then checks units against every region's Redis. */
  async function check(productId: string, accepted: string[], drainMs = 90_000): Promise<SaleCheck> {
    const stored = () =>
      accepted.length === 0
        ? Promise.resolve([])
        : database.db
            .select({ id: orders.id, quantity: orders.quantity, status: orders.status })
            .from(orders)
            .where(inArray(orders.id, accepted));
    await waitUntil(async () => (await stored()).length === accepted.length, drainMs, 250);
    const rows = await stored();
    const have = new Set(rows.map((o) => o.id));
    const all = await database.db
      .select({ quantity: orders.quantity, status: orders.status })
      .from(orders)
      .where(inArray(orders.productId, [productId]));
    const units = all.filter((o) => !UNHELD.has(o.status)).reduce((n, o) => n + o.quantity, 0);
    const total = (await services.products.view(productId))?.product.totalUnits ?? 0;
    const { drifts } = await verify(config, { productIds: [productId] });
    return {
      lost: accepted.filter((id) => !have.has(id)),
      oversold: Math.max(0, units - total),
      drifts: drifts.map((d) => JSON.stringify(d)),
    };
  }

  return { product, run, check, close: () => database.sql.end() };
}
