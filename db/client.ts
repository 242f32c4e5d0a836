/** One way to open PostgreSQL: postgres.js underneath, Drizzle on top. */
import postgres from "postgres";
import { drizzle } from "drizzle-orm/postgres-js";
import * as schema from "./schema.ts";

/**
 * `pooled`: the URL is PgBouncer in transaction pooling, where a server connection serves another
 * client after each transaction, so no statement may be prepared by name for later.
 */
export function connectDatabase(url: string, { max = 10, pooled = false }: { max?: number; pooled?: boolean } = {}) {
  const sql = postgres(url, { max, connect_timeout: 5, onnotice: () => {}, prepare: !pooled });
  return { sql, db: drizzle(sql, { schema }) };
}

export type Database = ReturnType<typeof connectDatabase>["db"];
