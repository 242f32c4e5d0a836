/**
 * PgBouncer (Debian's) in front of the stack's PostgreSQL, in transaction pooling: the scaled
 * topology's workers and admin API share a few server connections however many of them run.
 * It refuses to run as root, as PostgreSQL does, so it lives beside the PostgreSQL cluster's
 * folder and runs as `postgres` there.
 */
import { chownSync, existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { DATABASE_NAME, type Config } from "../../shared/config.ts";
import { StackError, findBinary, livePid, requireFreePort, run, tail, terminate, waitUntil } from "../process.ts";
import { asServerUser, isRoot, postgresDir, postgresIsReady, postgresUser } from "./postgres.ts";
import type { Service } from "./service.ts";

/** PgBouncer's ini for the stack's PostgreSQL. Pure. */
export function pgbouncerIni(config: Config, dir: string): string {
  const server = `host=127.0.0.1 port=${config.postgres.port}`;
  return [
    "[databases]",
    `${DATABASE_NAME} = ${server} dbname=${DATABASE_NAME}`,
    // What readiness probes connect to, as they do on PostgreSQL itself.
    `postgres = ${server} dbname=postgres`,
    "[pgbouncer]",
    "listen_addr = 127.0.0.1",
    `listen_port = ${config.postgres.poolPort}`,
    "unix_socket_dir =",
    // The stack's PostgreSQL trusts loopback; PgBouncer still wants each user named.
    "auth_type = trust",
    `auth_file = ${join(dir, "users.txt")}`,
    "pool_mode = transaction",
    "max_client_conn = 1000",
    "default_pool_size = 20",
    // postgres.js sends these at start-up; in transaction pooling they cannot follow a client.
    // Started beside PostgreSQL: a first refused login is tried again in a second, not fifteen.
    "server_login_retry = 1",
    "ignore_startup_parameters = extra_float_digits,options",
    `pidfile = ${join(dir, "pgbouncer.pid")}`,
    `logfile = ${join(dir, "pgbouncer.log")}`,
    "",
  ].join("\n");
}

export function pgbouncerService(config: Config): Service {
  const dir = () => join(postgresDir(config), "..", "pgbouncer");
  const pidFile = () => join(dir(), "pgbouncer.pid");
  const log = () => join(dir(), "pgbouncer.log");
  const pid = () => livePid(pidFile(), "pgbouncer");
  const url = config.postgres.poolUrl;

  return {
    name: "pgbouncer",
    binaries: () => ["pgbouncer"],

    async status() {
      const base = { name: "pgbouncer", endpoint: url, log: log() };
      const running = pid();
      return running && (await postgresIsReady(url, { pooled: true }))
        ? { ...base, state: "running", pid: running }
        : { ...base, state: "stopped" };
    },

    async start() {
      await requireFreePort(config.postgres.poolPort, "stop it, or set FLUX_GATE_PGBOUNCER_PORT");
      mkdirSync(dir(), { recursive: true });
      const ini = join(dir(), "pgbouncer.ini");
      writeFileSync(ini, pgbouncerIni(config, dir()));
      writeFileSync(join(dir(), "users.txt"), '"postgres" ""\n');
      if (!existsSync(log())) writeFileSync(log(), "");
      if (isRoot()) {
        const { uid, gid } = postgresUser();
        for (const file of [dir(), ini, join(dir(), "users.txt"), log()]) chownSync(file, uid, gid);
      }
      await run(asServerUser([findBinary("pgbouncer")!, "-d", ini]), { what: "pgbouncer start" });
      if (!(await waitUntil(() => postgresIsReady(url, { pooled: true }), 15_000))) {
        throw new StackError("pgbouncer started but does not pass connections on", tail(log()));
      }
    },

    async stop() {
      const running = pid();
      if (running) await terminate(running);
    },
  };
}
