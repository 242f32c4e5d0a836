/** The demo product `npm start` puts on sale, so that a new user has something to buy. */
import { connectDatabase } from "../db/client.ts";
import { allocations, products } from "../db/schema.ts";
import type { Config } from "../shared/config.ts";
import { signRequest } from "../shared/signing.ts";
import { StackError } from "./process.ts";

export const DEMO_PRODUCT = "demo-phone";
const UNITS_PER_REGION = 500;

/**
 * Creates the demo product once and activates it everywhere; each start keeps its sale open
 * for another week, so a stack reused for weeks still has something to buy.
 */
export async function seedDemoProduct(config: Config): Promise<string> {
  const { sql, db } = connectDatabase(config.postgres.url, { max: 1 });
  try {
    const now = Date.now();
    await db
      .insert(products)
      .values({
        id: DEMO_PRODUCT,
        name: "Demo phone",
        totalUnits: UNITS_PER_REGION * config.regions.length,
        startsAt: new Date(now - 60_000),
        endsAt: new Date(now + 7 * 24 * 3_600_000),
        perUserLimit: 2,
        maxPerOrder: 2,
        holdSeconds: 600,
      })
      .onConflictDoUpdate({ target: products.id, set: { endsAt: new Date(now + 7 * 24 * 3_600_000), updatedAt: new Date(now) } });
    await db
      .insert(allocations)
      .values(config.regions.map((r) => ({ productId: DEMO_PRODUCT, region: r.id, units: UNITS_PER_REGION })))
      .onConflictDoNothing();
  } finally {
    await sql.end();
  }
  for (const region of config.regions) {
    const path = `/v1/products/${DEMO_PRODUCT}/activate`;
    const response = await fetch(region.coreUrl + path, { method: "POST", headers: signRequest(region.coreSecret, "POST", path) });
    if (!response.ok) throw new StackError(`activating ${DEMO_PRODUCT} in ${region.id} failed: ${response.status} ${await response.text()}`);
  }
  return DEMO_PRODUCT;
}
