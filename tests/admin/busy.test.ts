/**
 * A busy 30 seconds: buyers in two regions reserve, confirm and cancel (and leave holds to
 * expire) while transfers run us-east → eu-west and back in a loop through the admin process.
 * Afterwards every transfer has completed, no region sold more than it was given, and verify
 * finds every unit.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { and, eq, sql } from "drizzle-orm";
import { DEVELOPMENT_ADMIN_TOKEN } from "../../shared/config.ts";
import { allocations, inventoryTransfers, orders } from "../../db/schema.ts";
import { waitUntil } from "../../stack/process.ts";
import { verify } from "../../cli/verify/verify.ts";
import { config, coreOrderPath } from "../support/helpers.ts";
import {
  adminServices,
  coreClient,
  createProduct,
  database,
  startAdmin,
  startCore,
  startWorker,
  testAdminUrl,
  type Child,
} from "../support/harness.ts";

const REGIONS = ["us-east", "eu-west"] as const;
const SECONDS = 30;
const STOCK = 5_000;
const SCARCE = 50;
const TRANSFER_UNITS = 5;

const pick = <T>(items: readonly T[]): T => items[Math.floor(Math.random() * items.length)]!;

describe("a busy 30 seconds", () => {
  const children: Child[] = [];
  beforeAll(async () => {
    for (const region of REGIONS) children.push(await startCore(region));
    for (const region of REGIONS) children.push(startWorker(region));
    children.push(await startAdmin());
  }, 60_000);
  afterAll(async () => {
    await Promise.all(children.map((c) => c.kill()));
  }, 30_000);

  test("sales, cancellations, expiries and transfers both ways at once: verify is clean, nothing oversold, every transfer completed", async () => {
    // `plenty` keeps units available so every transfer can go; `scarce` sells out in both regions.
    const plenty = await createProduct({
      units: { "us-east": STOCK, "eu-west": STOCK },
      holdSeconds: 1,
      perUserLimit: 100,
      maxPerOrder: 3,
    });
    const scarce = await createProduct({
      units: { "us-east": SCARCE, "eu-west": SCARCE },
      holdSeconds: 1,
      perUserLimit: 100,
      maxPerOrder: 3,
    });
    const deadline = Date.now() + SECONDS * 1000;
    const outcomes = { reserved: 0, confirmed: 0, cancelled: 0, refused: 0 };

    async function buyer(): Promise<void> {
      while (Date.now() < deadline) {
        const region = pick(REGIONS);
        const core = coreClient(region);
        const productId = Math.random() < 0.8 ? plenty : scarce;
        const orderId = crypto.randomUUID();
        const reserved = await core.reserve({
          orderId,
          userId: `u${Math.floor(Math.random() * 500)}`,
          productId,
          quantity: 1 + Math.floor(Math.random() * 3),
        });
        if (reserved.status !== 202) {
          outcomes.refused++;
        } else {
          outcomes.reserved++;
          const roll = Math.random();
          if (
            roll < 0.4 &&
            (await core.call("POST", coreOrderPath(orderId, { productId, action: "confirm" }))).status === 200
          )
            outcomes.confirmed++;
          else if (
            roll < 0.7 &&
            (await core.call("POST", coreOrderPath(orderId, { productId, action: "cancel" }))).status === 200
          )
            outcomes.cancelled++;
          // The rest are left to expire.
        }
        await Bun.sleep(20);
      }
    }

    const transfers: { from: string; to: string; status: number }[] = [];
    async function mover(from: string, to: string): Promise<void> {
      while (Date.now() < deadline) {
        const response = await fetch(`${testAdminUrl}/v1/transfers`, {
          method: "POST",
          headers: { Authorization: `Bearer ${DEVELOPMENT_ADMIN_TOKEN}`, "Content-Type": "application/json" },
          body: JSON.stringify({ transferId: crypto.randomUUID(), productId: plenty, from, to, units: TRANSFER_UNITS }),
        });
        transfers.push({ from, to, status: response.status });
        await Bun.sleep(50);
      }
    }

    await Promise.all([...Array.from({ length: 4 }, buyer), mover("us-east", "eu-west"), mover("eu-west", "us-east")]);
    console.error(`  busy: ${JSON.stringify(outcomes)}, ${transfers.length} transfers`);

    // Every transfer completed, once: 201 each, and the ledger holds exactly those, completed.
    expect(transfers.length).toBeGreaterThan(20);
    expect(transfers.filter((t) => t.status !== 201)).toEqual([]);
    const ledger = await database.db
      .select({ state: inventoryTransfers.state, n: sql<number>`count(*)::int` })
      .from(inventoryTransfers)
      .where(eq(inventoryTransfers.productId, plenty))
      .groupBy(inventoryTransfers.state);
    // Two of the ledger's moves are createProduct's initial claims.
    expect(ledger).toEqual([{ state: "completed", n: transfers.length + 2 }]);
    const moved = (from: string) => transfers.filter((t) => t.from === from).length * TRANSFER_UNITS;
    const given = await database.db.select().from(allocations).where(eq(allocations.productId, plenty));
    expect(Object.fromEntries(given.map((a) => [a.region, a.units]))).toEqual({
      "us-east": STOCK - moved("us-east") + moved("eu-west"),
      "eu-west": STOCK - moved("eu-west") + moved("us-east"),
    });

    // The last holds expire within a second or two; then every order has its final state.
    const reservedLeft = async () =>
      (
        await database.db
          .select({ n: sql<number>`count(*)::int` })
          .from(orders)
          .where(and(sql`${orders.productId} in (${plenty}, ${scarce})`, eq(orders.status, "reserved")))
      )[0]!.n;
    expect(await waitUntil(async () => (await reservedLeft()) === 0, 30_000, 250)).toBe(true);

    // The run exercised what it claims to: confirms, cancels, expiries, a sell-out.
    for (const productId of [plenty, scarce]) {
      const result = await verify(config, { productIds: [productId], settleMs: 30_000 });
      expect(result.drifts).toEqual([]);
    }
    const statuses = await database.db
      .select({ status: orders.status, n: sql<number>`count(*)::int` })
      .from(orders)
      .where(eq(orders.productId, plenty))
      .groupBy(orders.status);
    expect(statuses.map((s) => s.status).sort()).toEqual(["cancelled", "confirmed", "expired"]);
    expect(outcomes.refused).toBeGreaterThan(0);

    // Nothing oversold: no region sold (or holds) more than it was given, by PostgreSQL's orders.
    for (const productId of [plenty, scarce]) {
      const view = await adminServices([...REGIONS]).products.view(productId);
      for (const region of REGIONS) {
        const [taken] = await database.db
          .select({ units: sql<number>`coalesce(sum(${orders.quantity}), 0)::int` })
          .from(orders)
          .where(
            and(
              eq(orders.productId, productId),
              eq(orders.region, region),
              sql`${orders.status} in ('reserved', 'confirmed')`,
            ),
          );
        const here = view!.regions.find((r) => r.region === region)!;
        expect(taken!.units).toBeLessThanOrEqual(here.allocation);
        expect(here.live!.available).toBeGreaterThanOrEqual(0);
      }
    }
    const scarceView = await adminServices([...REGIONS]).products.view(scarce);
    expect(scarceView!.regions.every((r) => r.live!.available + r.live!.held < SCARCE)).toBe(true);
  }, 120_000);
});
