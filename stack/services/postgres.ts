/**
 * A private PostgreSQL cluster under the stack's folder, made with Debian's initdb and pg_ctl.
 * PostgreSQL refuses to run as root, so as root (CI) every server command runs as `postgres`.
 */
import { chownSync, existsSync, mkdirSync, statSync, writeFileSync } from "node:fs";
import { createHash } from "node:crypto";
import { dirname, join, resolve } from "node:path";
import postgres from "postgres";
import type { Config } from "../../shared/config.ts";
import { migrateDatabase } from "../../db/migrate.ts";
import { StackError, findBinary, livePid, requireFreePort, run, tail, waitUntil } from "../process.ts";
import { stackPaths, type Service } from "./service.ts";

export const isRoot = () => process.getuid?.() === 0;

export function postgresUser(): { uid: number; gid: number } {
  const probe = Bun.spawnSync(["id", "-u", "postgres"]);
  const group = Bun.spawnSync(["id", "-g", "postgres"]);
  if (probe.exitCode !== 0) {
    throw new StackError(
      "running as root, but there is no `postgres` user to run PostgreSQL as",
      "install with: apt-get install -y postgresql",
    );
  }
  return { uid: Number(probe.stdout.toString()), gid: Number(group.stdout.toString()) };
}

/** Runs argv as `postgres` when we are root, as ourselves otherwise. */
export function asServerUser(argv: string[]): string[] {
  return isRoot() ? ["runuser", "-u", "postgres", "--", ...argv] : argv;
}

/** True when a user who is neither owner nor group of the path can walk down to `dir`. */
export function reachableByOthers(dir: string): boolean {
  for (let path = resolve(dir); ; path = dirname(path)) {
    if (existsSync(path) && (statSync(path).mode & 0o001) === 0) return false;
    if (path === dirname(path)) return true;
  }
}

/**
 * The cluster's folder. As root, `postgres` must be able to reach it; a clone under a private
 * home (e.g. /root) is not reachable, so the cluster then lives under /var/tmp instead.
 */
export function postgresDir(config: Config): string {
  const preferred = stackPaths(config).data("postgres");
  if (!isRoot() || reachableByOthers(config.home)) return preferred;
  const id = createHash("sha1").update(config.home).digest("hex").slice(0, 10);
  return join("/var/tmp", `flux-gate-${id}`, "postgres");
}

export async function postgresIsReady(url: string, { pooled = false } = {}): Promise<boolean> {
  const server = new URL(url);
  server.pathname = "/postgres";
  const sql = postgres(server.toString(), { max: 1, connect_timeout: 2, onnotice: () => {}, prepare: !pooled });
  try {
    await sql`select 1`;
    return true;
  } catch {
    return false;
  } finally {
    await sql.end({ timeout: 1 });
  }
}

export function postgresService(config: Config): Service {
  const { url, external, port } = config.postgres;
  const clusterDir = () => postgresDir(config);
  const dataDir = () => join(clusterDir(), "data");
  // Beside the cluster rather than in logs/: it must be writable by `postgres` too.
  const logFile = () => join(clusterDir(), "postgres.log");
  const pid = () => livePid(join(dataDir(), "postmaster.pid"), "postgres");

  return {
    name: "postgres",
    binaries: () => ["initdb", "pg_ctl"],

    async status() {
      const base = { name: "postgres", endpoint: url, log: external ? undefined : logFile() };
      if (external) return { ...base, state: (await postgresIsReady(url)) ? "external" : "unreachable" };
      const running = pid();
      return running && (await postgresIsReady(url))
        ? { ...base, state: "running", pid: running }
        : { ...base, state: "stopped" };
    },

    async start(progress) {
      await requireFreePort(port, "stop it, set FLUX_GATE_PG_PORT, or set DATABASE_URL to use that server");
      const data = dataDir();
      const log = logFile();
      mkdirSync(clusterDir(), { recursive: true });
      if (!existsSync(log)) writeFileSync(log, "");
      if (isRoot()) {
        const { uid, gid } = postgresUser();
        chownSync(clusterDir(), uid, gid);
        chownSync(log, uid, gid);
      }
      if (!existsSync(join(data, "PG_VERSION"))) {
        progress("initdb (first run only)");
        await run(
          asServerUser([
            findBinary("initdb")!,
            "-D",
            data,
            "-U",
            "postgres",
            "--auth=trust",
            "-E",
            "UTF8",
            "--no-locale",
            "--no-sync",
          ]),
          { what: "initdb" },
        );
      }
      const serverOptions = `-p ${port} -c listen_addresses=127.0.0.1 -c unix_socket_directories=''`;
      try {
        await run(
          asServerUser([findBinary("pg_ctl")!, "-D", data, "-l", log, "-o", serverOptions, "-w", "-t", "30", "start"]),
          {
            what: "pg_ctl start",
          },
        );
      } catch (error) {
        const output = error instanceof StackError ? `${error.hint}\n` : "";
        throw new StackError("postgres did not start", `${output}${tail(log)}`);
      }
      if (!(await waitUntil(() => postgresIsReady(url), 10_000))) {
        throw new StackError("postgres started but does not accept connections", tail(log));
      }
    },

    async stop() {
      if (!pid()) return;
      await run(asServerUser([findBinary("pg_ctl")!, "-D", dataDir(), "-m", "fast", "-w", "stop"]), {
        what: "pg_ctl stop",
      });
    },

    prepare: () => migrateDatabase(url),
  };
}
