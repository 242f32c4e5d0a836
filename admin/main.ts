/**
 * The admin API process: one for the whole deployment (it works through PostgreSQL and the
 * regions' cores, never a region's Redis), plus the resumer that finishes interrupted moves.
 *   bun admin/main.ts
 */
import { loadConfig, regionVariable, requireSecrets } from "../shared/config.ts";
import { logger } from "../shared/log.ts";
import { onShutdown } from "../shared/process.ts";
import { connectDatabase } from "../db/client.ts";
import { tokenChecker } from "./access/tokens.ts";
import { startHistory } from "./dashboard/history.ts";
import { regionStats } from "./dashboard/stats.ts";
import { createAdminApp } from "./http/app.ts";
import { haltAfter } from "./inventory/moves.ts";
import { inventoryServices } from "./inventory/services.ts";
import { startResumer } from "./inventory/resumer.ts";

const config = loadConfig();
requireSecrets(config, [
  "FLUX_GATE_ADMIN_TOKENS",
  ...config.regions.map((r) => regionVariable("CORE_ADMIN_SECRET", r.id)),
]);
const log = logger("admin", "global");

const { sql, db } = connectDatabase(config.postgres.poolUrl, { pooled: config.postgres.pooled });
const regionIds = config.regions.map((r) => r.id);
const { ledger, moves, products } = inventoryServices(db, config.regions, haltAfter(config.admin.testHaltAfter, log));

const resumer = startResumer(moves, config.admin.resumeIntervalMs, (error, transfer) =>
  log.warn("resuming a transfer failed; will retry", { transferId: transfer?.id, error: String(error) }),
);
const history = startHistory({ regions: config.regions, edgeUrl: config.edge.metricsUrl });
const app = createAdminApp({
  db,
  products,
  ledger,
  regionIds,
  authenticate: tokenChecker(config.admin.tokens),
  stats: regionStats(config.regions),
  history: history.points,
  log: (level, message, fields) => log[level](message, fields),
});
const server = Bun.serve({ port: config.admin.port, hostname: config.listenHost, fetch: app.fetch });
log.info("listening", { url: config.admin.url, port: server.port });

onShutdown(async () => {
  await server.stop();
  await resumer.stop();
  await history.stop();
  await sql.end({ timeout: 2 });
  log.info("stopped");
});
