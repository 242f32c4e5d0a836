/**
 * Applies order events to PostgreSQL: one transaction per batch, multi-row statements, and
 * idempotent: an order row only moves forward (reserved → a final status), and an event row
 * exists once per (order, status), so replaying any message changes nothing.
 *
 * The two statements are written with postgres.js's own multi-row helper, not Drizzle's insert
 * builder: building a 500-row insert cost Drizzle ~60 µs an order of the worker's CPU, the helper
 * ~25 (docs/benchmarks.md). Drizzle's schema still names the table, its columns and how each
 * value goes to the driver, so the schema stays the one source of truth.
 */
import { getTableColumns, getTableName, inArray, type Table } from "drizzle-orm";
import type { Database } from "../db/client.ts";
import { orderEvents, orders, products } from "../db/schema.ts";
import type { OrderEvent } from "../shared/events.ts";
import { isDataError, plan } from "./plan.ts";

/** Rows per statement: 11 parameters a row stays far below PostgreSQL's 65,535. */
const ROWS_PER_STATEMENT = 2_000;

function chunks<T>(items: T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/** Rows of `table` as the driver takes them: keyed by column name, each value mapped by its column. */
function driverRows<T extends Table>(table: T, rows: Partial<T["$inferInsert"]>[]): Record<string, unknown>[] {
  const columns = Object.entries(getTableColumns(table));
  return rows.map((row) => {
    const out: Record<string, unknown> = {};
    for (const [key, column] of columns) {
      const value = (row as Record<string, unknown>)[key];
      if (value !== undefined) out[column.name] = value === null ? null : column.mapToDriverValue(value);
    }
    return out;
  });
}

async function write(db: Database, events: OrderEvent[]): Promise<void> {
  const rows = plan(events);
  const [ordersTable, eventsTable] = [getTableName(orders), getTableName(orderEvents)];
  await db.$client.begin(async (tx) => {
    const [id, status, updatedAt] = [tx(orders.id.name), tx(orders.status.name), tx(orders.updatedAt.name)];
    for (const chunk of chunks(driverRows(orders, rows.orders), ROWS_PER_STATEMENT)) {
      await tx`
        insert into ${tx(ordersTable)} ${tx(chunk)}
        on conflict (${id}) do update set ${status} = excluded.${status}, ${updatedAt} = excluded.${updatedAt}
        where ${tx(ordersTable)}.${status} = 'reserved' and excluded.${status} <> 'reserved'`;
    }
    for (const chunk of chunks(driverRows(orderEvents, rows.events), ROWS_PER_STATEMENT)) {
      await tx`insert into ${tx(eventsTable)} ${tx(chunk)} on conflict do nothing`;
    }
  });
}

export interface Rejected<T> {
  item: T;
  reason: string;
}

/**
 * Products are never deleted, so a product seen once is known for good: most batches need no
 * lookup at all.
 */
const knownProducts = new Set<string>();

async function learnProducts(db: Database, ids: string[]): Promise<void> {
  const unseen = ids.filter((id) => !knownProducts.has(id));
  if (unseen.length === 0) return;
  for (const p of await db.select({ id: products.id }).from(products).where(inArray(products.id, unseen)))
    knownProducts.add(p.id);
}

/**
 * Writes the items' events and returns the items PostgreSQL refused (unknown product, a
 * constraint). Throws only when the database itself failed (down, timed out): then nothing
 * was written.
 */
export async function persist<T extends { event: OrderEvent }>(db: Database, items: T[]): Promise<Rejected<T>[]> {
  if (items.length === 0) return [];
  await learnProducts(db, [...new Set(items.map((i) => i.event.productId))]);
  const known = knownProducts;
  const rejected: Rejected<T>[] = items
    .filter((i) => !known.has(i.event.productId))
    .map((item) => ({ item, reason: `unknown product ${item.event.productId}` }));
  const writable = items.filter((i) => known.has(i.event.productId));
  try {
    await write(
      db,
      writable.map((i) => i.event),
    );
  } catch (error) {
    if (!isDataError(error)) throw error;
    // One bad row fails the whole batch: find it by writing the events one at a time.
    for (const item of writable) {
      try {
        await write(db, [item.event]);
      } catch (single) {
        if (!isDataError(single)) throw single;
        rejected.push({ item, reason: `refused by PostgreSQL: ${databaseMessage(single)}` });
      }
    }
  }
  return rejected;
}

/** Drizzle wraps the driver's error; the driver's message names the constraint. */
function databaseMessage(error: unknown): string {
  const cause = (error as { cause?: unknown }).cause;
  return cause instanceof Error ? cause.message : error instanceof Error ? error.message : String(error);
}
