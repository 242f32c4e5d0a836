#!/usr/bin/env bun
/** `flux-gate`: the local stack and the tools around it. `flux-gate help` lists the commands. */
import { parseArgs } from "node:util";
import {
  ConfigError,
  DEVELOPMENT_ADMIN_TOKEN,
  loadConfig,
  redactUrl,
  regionById,
  requireSecrets,
  TOPOLOGIES,
  type Config,
} from "../shared/config.ts";
import { setUserCommands, userRules } from "../shared/redis-acl.ts";
import { REDIS_COMPONENTS, redisPasswordVariable } from "../shared/redis-users.ts";
import { migrateDatabase } from "../db/migrate.ts";
import { UsageError } from "../shared/command-line.ts";
import { StackError } from "../stack/process.ts";
import { appEndpoints, appStatus, claimRun, startApps, stopApps, type App } from "../stack/apps.ts";
import { seedDemoProduct } from "../stack/demo-product.ts";
import { parseWanDelay, wanLayout, type WanLayout } from "../stack/wan.ts";
import { endpoints, killServices, stackDown, stackStatus, stackUp, type ServiceStatus } from "../stack/stack.ts";
import { verify } from "./verify/verify.ts";
import { ADMIN_USAGE, AdminCommandError, adminCommand } from "./admin-commands.ts";

const USAGE = `usage: flux-gate <command>

  stack up               start Redis (one per region), PostgreSQL and Kafka; reuse what runs
  stack down             stop what the stack started
  status [--json]        every endpoint of the running system: the edge, the dashboard, the
                         admin API, each region's core, REST adapter, worker and Redis, PostgreSQL
                         and Kafka, and whether each answers
  stack status [--json]  show each service and its endpoint
  db migrate             create the database if needed and apply the migrations
  verify [--json] [--product ID]… [--settle SECONDS]
                         check that no unit was created or lost: PostgreSQL against each
                         region's Redis; exits 1 naming each drift
  redis users --region ID
                         the region's Redis users (deploy/redis/users.acl) as ACL SETUSER
                         commands with the configured passwords hashed, for a Redis the stack
                         does not run: pipe into redis-cli
  run                    stack up, plus a REST adapter, core and worker per region, the admin API
                         and the edge, and the demo product, in the foreground (npm start);
                         Ctrl-C stops what it started
${ADMIN_USAGE}

  --topology scaled      with stack up|down|status, status, run, verify: the scaled topology
                         (per region a Redis Cluster of 3 masters and 3 replicas, 2 cores and
                         2 workers; 3 Kafka nodes; PgBouncer): docs/capacity.md
  --wan [--wan-delay-ms N]
                         with run: a simulated WAN between the regions: each region's Redis and
                         core behind a TCP relay adding N ms (35) each way, and one edge per
                         region (8080, 8081, …) reaching its own region directly and the others
                         through the relays: docs/capacity.md#the-wan-simulated

Settings come from the environment (docs/configuration.md).`;

/** `--wan-delay-ms`, or a usage error naming it. */
function wanDelay(raw: string | undefined): number {
  try {
    return parseWanDelay(raw);
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

const progress = (service: string, message: string) => console.error(`  ${service.padEnd(16)} ${message}`);

function printTable(services: ServiceStatus[]): void {
  for (const s of services) {
    console.log(`${s.name.padEnd(16)} ${s.state.padEnd(12)} ${s.endpoint}${s.pid ? `  (pid ${s.pid})` : ""}`);
  }
}

async function runInForeground(config: Config, wan?: WanLayout): Promise<void> {
  const run = claimRun(config);
  const giveUp = async (error: unknown, apps: App[] = []) => {
    await stopApps(apps);
    await stackDown(config, started);
    run.release();
    throw error;
  };
  const { started, services } = await stackUp(config, progress).catch((error: unknown) => {
    run.release();
    throw error;
  });
  const apps = await startApps(config, run, progress, { wan }).catch((error: unknown) => giveUp(error));
  const demo = await seedDemoProduct(config).catch((error: unknown) => giveUp(error, apps));
  printTable(services);
  for (const app of apps)
    console.log(
      `${app.name.padEnd(16)} ${"running".padEnd(12)} ${app.url ?? ""}${app.url ? "  " : ""}(log ${app.log})`,
    );
  const urls = appEndpoints(config);
  const token = config.defaultedSecrets.has("FLUX_GATE_ADMIN_TOKENS")
    ? DEVELOPMENT_ADMIN_TOKEN
    : "(a token from FLUX_GATE_ADMIN_TOKENS)";
  console.log(`\nFlux-Gate is up (data and logs in ${config.home}). Ctrl-C stops it.`);
  if (wan) {
    for (const edge of wan.edges)
      console.log(
        `  Edge        ${edge.url}   (${edge.region}; the other regions ${wan.delayMs} ms away each way; demo product on sale: ${demo})`,
      );
  } else
    console.log(`  Edge        ${urls.edge}   (OpenAPI: ${urls.edge}/openapi.json; demo product on sale: ${demo})`);
  console.log(`  Dashboard   ${urls.dashboard}`);
  console.log(`  Admin API   ${urls.admin}`);
  console.log(`  Admin token ${token}`);
  console.log(`  Try it      npm run demo${wan ? " -- --wan" : ""}`);
  await new Promise<void>((resolve) => {
    process.once("SIGINT", resolve);
    process.once("SIGTERM", resolve);
  });
  console.error("\nstopping… (Ctrl-C again stops everything at once)");
  const now = async () => {
    console.error("\nstopping everything at once: SIGKILL to the apps and to the services this run started");
    for (const app of apps) app.kill();
    await killServices(config, started);
    run.release();
    process.exit(130);
  };
  process.once("SIGINT", now);
  process.once("SIGTERM", now);
  await stopApps(apps);
  await stackDown(config, started);
  run.release();
  const left = services.length - started.length;
  if (left > 0) console.error(`left ${left} service(s) running that were up before this run`);
}

async function main(argv: string[]): Promise<void> {
  if (argv[0] === "products" || argv[0] === "transfers") return adminCommand(loadConfig(), argv);
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      json: { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
      product: { type: "string", multiple: true },
      settle: { type: "string", default: "10" },
      region: { type: "string" },
      topology: { type: "string" },
      wan: { type: "boolean", default: false },
      "wan-delay-ms": { type: "string" },
    },
  });
  const command = positionals.join(" ");
  if (values.help || command === "help" || command === "") {
    console.log(USAGE);
    return;
  }
  // `npm start` runs the whole system on local defaults (FLUX_GATE_ENV unset means production).
  if (command === "run") process.env.FLUX_GATE_ENV ??= "development";
  // The processes `run` starts read it from the environment too.
  if (values.topology) {
    if (!(TOPOLOGIES as readonly string[]).includes(values.topology))
      throw new UsageError(`--topology takes one of ${TOPOLOGIES.join(", ")}, not "${values.topology}"`);
    process.env.FLUX_GATE_TOPOLOGY = values.topology;
  }
  const config = loadConfig();
  if ((values.wan || values["wan-delay-ms"] !== undefined) && command !== "run")
    throw new UsageError("--wan goes with run (npm start -- --wan)");
  if (values["wan-delay-ms"] !== undefined && !values.wan) throw new UsageError("--wan-delay-ms goes with --wan");
  switch (command) {
    case "stack up": {
      const { services } = await stackUp(config, progress);
      printTable(services);
      return;
    }
    case "stack down":
      await stackDown(config);
      return;
    case "status": {
      const [services, apps] = await Promise.all([stackStatus(config), appStatus(config)]);
      if (values.json) {
        console.log(JSON.stringify({ ...appEndpoints(config), ...endpoints(config), services, apps }, null, 2));
      } else {
        printTable(services);
        for (const app of apps)
          console.log(
            `${app.name.padEnd(16)} ${app.state.padEnd(12)} ${app.url}${app.restarts ? `  (restarted ${app.restarts}×)` : ""}`,
          );
        console.log(`${"dashboard".padEnd(16)} ${"".padEnd(12)} ${appEndpoints(config).dashboard}`);
      }
      return;
    }
    case "stack status": {
      const services = await stackStatus(config);
      if (values.json) console.log(JSON.stringify({ ...endpoints(config), services }, null, 2));
      else printTable(services);
      return;
    }
    case "db migrate":
      await migrateDatabase(config.postgres.url);
      console.error(`migrations applied to ${redactUrl(config.postgres.url)}`);
      return;
    case "run":
      return runInForeground(config, values.wan ? wanLayout(config, wanDelay(values["wan-delay-ms"])) : undefined);
    case "verify": {
      const settle = Number(values.settle);
      if (!Number.isFinite(settle) || settle < 0)
        throw new UsageError(`--settle takes seconds, not "${values.settle}"`);
      const result = await verify(config, { productIds: values.product, settleMs: settle * 1000 });
      if (values.json) console.log(JSON.stringify(result, null, 2));
      else if (result.drifts.length === 0) {
        const moving = result.transfersInFlight
          ? ` (${result.transfersInFlight} transfer(s) in flight, counted where their units are)`
          : "";
        console.log(
          `verify: ${result.products} product(s) in ${config.regions.length} region(s): every unit accounted for${moving}`,
        );
      } else
        for (const d of result.drifts)
          console.log(`drift: ${d.productId}${d.region ? ` in ${d.region}` : ""}: ${d.message}`);
      if (result.drifts.length > 0) process.exitCode = 1;
      return;
    }
    case "redis users": {
      if (!values.region) throw new UsageError("redis users needs --region ID");
      const region = regionById(config, values.region);
      requireSecrets(config, REDIS_COMPONENTS.map(redisPasswordVariable));
      for (const line of setUserCommands(userRules(), region.id, config.redis.passwords)) console.log(line.join(" "));
      return;
    }
    default:
      throw new UsageError(`unknown command "${command}"`);
  }
}

try {
  await main(Bun.argv.slice(2));
} catch (error) {
  if (
    error instanceof UsageError ||
    (error instanceof TypeError && "code" in error && String(error.code).startsWith("ERR_PARSE_ARGS"))
  ) {
    console.error(`flux-gate: ${error.message}\n\n${USAGE}`);
    process.exit(2);
  }
  if (error instanceof StackError || error instanceof ConfigError || error instanceof AdminCommandError) {
    console.error(`flux-gate: ${error.message}`);
    if (error instanceof StackError && error.hint) console.error(error.hint);
    process.exit(1);
  }
  throw error;
}
