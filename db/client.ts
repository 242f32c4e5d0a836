/** One way to open PostgreSQL: postgres.js underneath, Drizzle on top. */
import postgres from "postgres";
import { drizzle } from "drizzle-orm/postgres-js";
import * as schema from "./schema.ts";

export function connectDatabase(url: string, { max = 10 }: { max?: number } = {}) {
  const sql = postgres(url, { max, connect_timeout: 5, onnotice: () => {} });
  return { sql, db: drizzle(sql, { schema }) };
}

export type Database = ReturnType<typeof connectDatabase>["db"];
