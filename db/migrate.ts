/** Creates the database if needed and applies the committed migrations, once at a time. */
import { fileURLToPath } from "node:url";
import postgres from "postgres";
import { migrate } from "drizzle-orm/postgres-js/migrator";
import { connectDatabase } from "./client.ts";

const MIGRATIONS = fileURLToPath(new URL("./migrations", import.meta.url));
/** Any fixed number: serialises concurrent `migrate` calls (two test runs, two workers). */
const MIGRATION_LOCK = 727_001;

export async function createDatabaseIfMissing(url: string): Promise<void> {
  const target = new URL(url);
  const name = decodeURIComponent(target.pathname.slice(1));
  const server = new URL(url);
  server.pathname = "/postgres";
  const sql = postgres(server.toString(), { max: 1, connect_timeout: 5, onnotice: () => {} });
  try {
    const [found] = await sql`select 1 from pg_database where datname = ${name}`;
    if (!found) await sql`create database ${sql(name)}`.catch(ignoreDuplicateDatabase);
  } finally {
    await sql.end();
  }
}

export async function migrateDatabase(url: string): Promise<void> {
  await createDatabaseIfMissing(url);
  const { sql, db } = connectDatabase(url, { max: 1 });
  try {
    await sql`select pg_advisory_lock(${MIGRATION_LOCK})`;
    await migrate(db, { migrationsFolder: MIGRATIONS });
  } finally {
    await sql.end();
  }
}

/** Another process created it between our check and our create: that is what we wanted. */
function ignoreDuplicateDatabase(error: { code?: string }): void {
  if (error.code !== "42P04" && error.code !== "23505") throw error;
}
