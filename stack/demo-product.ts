/** The demo product `npm start` puts on sale, so that a new user has something to buy. */
import { connectDatabase } from "../db/client.ts";
import type { Config } from "../shared/config.ts";
import { inventoryServices } from "../admin/inventory/services.ts";
import { StackError } from "./process.ts";

export const DEMO_PRODUCT = "demo-phone";
const UNITS_PER_REGION = 500;
const WEEK_MS = 7 * 24 * 3_600_000;

/**
 * Creates the demo product once, as an admin would, with its units allocated across the
 * regions; each later start only keeps its sale open for another week, so a stack reused for
 * weeks still has something to buy and the allocations an admin moved stay where they are.
 */
export async function seedDemoProduct(config: Config): Promise<string> {
  const { sql, db } = connectDatabase(config.postgres.url, { max: 2 });
  const regionIds = config.regions.map((r) => r.id);
  const { products } = inventoryServices(db, config.regions);
  try {
    const now = Date.now();
    const created = await products.create({
      id: DEMO_PRODUCT,
      name: "Demo phone",
      totalUnits: UNITS_PER_REGION * regionIds.length,
      startsAt: new Date(now - 60_000),
      endsAt: new Date(now + WEEK_MS),
      perUserLimit: 2,
      maxPerOrder: 2,
      holdSeconds: 600,
    });
    const kept = created.ok ? created : await products.update(DEMO_PRODUCT, { endsAt: new Date(now + WEEK_MS) });
    if (!kept.ok) throw new StackError(`seeding ${DEMO_PRODUCT} failed: ${kept.code}: ${kept.detail}`);
    // Allocated once: on the first start, or on a later one if the first stopped before it could.
    const view = await products.view(DEMO_PRODUCT);
    if (view && view.unallocated === kept.value.totalUnits) {
      const seeded = await products.setAllocations(
        DEMO_PRODUCT,
        Object.fromEntries(regionIds.map((r) => [r, UNITS_PER_REGION])),
        "npm-start",
      );
      const unfinished = seeded.ok ? seeded.value.find((m) => m.transfer.state !== "completed") : undefined;
      if (!seeded.ok) throw new StackError(`allocating ${DEMO_PRODUCT} failed: ${seeded.code}: ${seeded.detail}`);
      if (unfinished)
        throw new StackError(
          `allocating ${DEMO_PRODUCT} did not complete: a move is ${unfinished.transfer.state}${unfinished.transfer.reason ? ` (${unfinished.transfer.reason})` : ""}`,
        );
    }
  } finally {
    await sql.end();
  }
  return DEMO_PRODUCT;
}
