/**
 * Applies order events to PostgreSQL: one transaction per batch, multi-row statements, and
 * idempotent: an order row only moves forward (reserved → a final status), and an event row
 * exists once per (order, status), so replaying any message changes nothing.
 *
 * The two statements are written by hand over postgres.js, not with Drizzle's insert builder:
 * building a 500-row insert cost Drizzle ~60 µs an order of the worker's CPU (docs/benchmarks.md).
 * Each column goes as one array and unnest() turns the arrays back into rows, so the statement's
 * text is the same whatever a batch's size: PostgreSQL prepares it once per connection. A
 * `values (…), (…)` list would be a new named prepared statement for every size a batch takes,
 * each held by the server until the connection closes. Drizzle's schema still names the table,
 * its columns, their types and how each value goes to the driver: it stays the one source of truth.
 */
import { getTableColumns, getTableName, inArray, type Table } from "drizzle-orm";
import type postgres from "postgres";
import type { Database } from "../db/client.ts";
import { orderEvents, orders, products } from "../db/schema.ts";
import type { OrderEvent } from "../shared/events.ts";
import { isDataError, plan } from "./plan.ts";

const quote = (identifier: string) => `"${identifier.replaceAll('"', '""')}"`;

/**
 * `insert into table (columns) select * from unnest($1::type[], …)` for the columns the rows
 * carry (every row has the same keys), each value mapped as its column maps it, then `rest`.
 */
async function insertRows<T extends Table>(
  sql: postgres.TransactionSql,
  table: T,
  rows: Partial<T["$inferInsert"]>[],
  rest = "",
): Promise<void> {
  const [first] = rows;
  if (!first) return;
  const columns = Object.entries(getTableColumns(table)).filter(([key]) => key in first);
  const arrays = columns.map(([key, column]) =>
    sql.array(
      rows.map((row) => {
        const value = (row as Record<string, unknown>)[key];
        return value === null || value === undefined ? null : column.mapToDriverValue(value);
      }) as postgres.SerializableParameter[],
    ),
  );
  const names = columns.map(([, column]) => quote(column.name)).join(", ");
  const unnest = columns.map(([, column], i) => `$${i + 1}::${column.getSQLType()}[]`).join(", ");
  await sql.unsafe(
    `insert into ${quote(getTableName(table))} (${names}) select * from unnest(${unnest}) ${rest}`,
    arrays,
    {
      prepare: true,
    },
  );
}

async function write(db: Database, events: OrderEvent[]): Promise<void> {
  const rows = plan(events);
  const [table, id, status, updatedAt] = [
    getTableName(orders),
    orders.id.name,
    orders.status.name,
    orders.updatedAt.name,
  ].map(quote);
  await db.$client.begin(async (tx) => {
    await insertRows(
      tx,
      orders,
      rows.orders,
      `on conflict (${id}) do update set ${status} = excluded.${status}, ${updatedAt} = excluded.${updatedAt}
       where ${table}.${status} = 'reserved' and excluded.${status} <> 'reserved'`,
    );
    await insertRows(tx, orderEvents, rows.events, "on conflict do nothing");
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
 * was written. `heartbeat` is called between the writes of a batch that had to be split, which
 * may take a while: the consumer group must not think the worker gone meanwhile.
 */
export async function persist<T extends { event: OrderEvent }>(
  db: Database,
  items: T[],
  { heartbeat = async () => {} }: { heartbeat?: () => Promise<void> } = {},
): Promise<Rejected<T>[]> {
  if (items.length === 0) return [];
  await learnProducts(db, [...new Set(items.map((i) => i.event.productId))]);
  const known = knownProducts;
  const rejected: Rejected<T>[] = items
    .filter((i) => !known.has(i.event.productId))
    .map((item) => ({ item, reason: `unknown product ${item.event.productId}` }));
  const writable = items.filter((i) => known.has(i.event.productId));
  await writeOrBisect(db, writable, rejected, heartbeat);
  return rejected;
}

/** A refused batch of this many rows or fewer is written row by row: halving it saves nothing. */
const ROW_BY_ROW_AT = 8;

/**
 * One bad row fails its whole transaction: halve the batch until the rows PostgreSQL refuses are
 * among a few, then write those one at a time. One bad row in n costs about 2·log2(n)
 * transactions; every row bad about 1.25·n (writing each alone: n).
 */
async function writeOrBisect<T extends { event: OrderEvent }>(
  db: Database,
  items: T[],
  rejected: Rejected<T>[],
  heartbeat: () => Promise<void>,
): Promise<void> {
  if (items.length === 0) return;
  try {
    await write(
      db,
      items.map((i) => i.event),
    );
    return;
  } catch (error) {
    if (!isDataError(error)) throw error;
    if (items.length === 1) {
      rejected.push({ item: items[0]!, reason: `refused by PostgreSQL: ${databaseMessage(error)}` });
      return;
    }
  }
  await heartbeat();
  const parts =
    items.length <= ROW_BY_ROW_AT
      ? items.map((item) => [item])
      : [items.slice(0, Math.ceil(items.length / 2)), items.slice(Math.ceil(items.length / 2))];
  for (const part of parts) await writeOrBisect(db, part, rejected, heartbeat);
}

/** Drizzle wraps the driver's error; the driver's message names the constraint. */
function databaseMessage(error: unknown): string {
  const cause = (error as { cause?: unknown }).cause;
  return cause instanceof Error ? cause.message : error instanceof Error ? error.message : String(error);
}
