import { afterAll, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { eq } from "drizzle-orm";
import { connectDatabase } from "../../db/client.ts";
import { migrateDatabase } from "../../db/migrate.ts";
import { allocations, products } from "../../db/schema.ts";
import { config, uniqueName } from "../support/helpers.ts";

const { sql, db } = connectDatabase(config.postgres.url, { max: 2 });
afterAll(() => sql.end());

const journal = JSON.parse(readFileSync(new URL("../../db/migrations/meta/_journal.json", import.meta.url), "utf8"));

function aProduct(id: string) {
  return {
    id,
    name: "Smoke test phone",
    totalUnits: 100,
    startsAt: new Date("2026-01-01T09:00:00Z"),
    endsAt: new Date("2026-01-01T10:00:00Z"),
    perUserLimit: 2,
    maxPerOrder: 3,
    holdSeconds: 600,
  };
}

test("every committed migration is applied, and applying again changes nothing", async () => {
  const count = async () => (await sql`select count(*)::int as n from drizzle.__drizzle_migrations`)[0]!.n;
  expect(await count()).toBe(journal.entries.length);
  await migrateDatabase(config.postgres.url);
  expect(await count()).toBe(journal.entries.length);
});

test("a product and its allocation round-trip through Drizzle", async () => {
  const id = uniqueName("smoke");
  await db.insert(products).values(aProduct(id));
  await db.insert(allocations).values({ productId: id, region: config.regions[0]!.id, units: 40 });

  const [stored] = await db.select().from(products).where(eq(products.id, id));
  expect(stored).toMatchObject({ ...aProduct(id), paused: false });
  const stock = await db.select().from(allocations).where(eq(allocations.productId, id));
  expect(stock.map((a) => [a.region, a.units])).toEqual([[config.regions[0]!.id, 40]]);
});

test("the schema refuses a sale window that ends before it starts", async () => {
  const bad = { ...aProduct(uniqueName("smoke")), endsAt: new Date("2025-12-31T00:00:00Z") };
  const refusal = await db
    .insert(products)
    .values(bad)
    .then(
      () => undefined,
      (error: { cause?: { constraint_name?: string } }) => error.cause?.constraint_name,
    );
  expect(refusal).toBe("products_window_ordered");
});
