/** Process plumbing for the local stack: finding binaries, pid files, waiting, log tails. */
import { closeSync, existsSync, openSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { connect } from "node:net";

/** A service could not start; `hint` says what to do about it. */
export class StackError extends Error {
  override name = "StackError";
  constructor(
    message: string,
    readonly hint?: string,
  ) {
    super(message);
  }
}

/** The Debian package that provides each binary the stack runs. */
export const PACKAGE_OF = {
  "redis-server": "redis-server",
  "redis-cli": "redis-tools",
  pgbouncer: "pgbouncer",
  initdb: "postgresql",
  pg_ctl: "postgresql",
  java: "openjdk-17-jre-headless",
  mvn: "maven",
} as const;
export type Binary = keyof typeof PACKAGE_OF;

/** Debian keeps PostgreSQL's server binaries off PATH, one folder per major version. */
function postgresBinDirs(): string[] {
  const root = "/usr/lib/postgresql";
  if (!existsSync(root)) return [];
  return readdirSync(root)
    .filter((v) => /^\d+$/.test(v))
    .sort((a, b) => Number(b) - Number(a))
    .map((v) => join(root, v, "bin"));
}

export function findBinary(name: Binary, path = process.env.PATH ?? ""): string | undefined {
  const dirs = path.split(":").filter(Boolean);
  if (name === "initdb" || name === "pg_ctl") dirs.push(...postgresBinDirs());
  // Debian installs PgBouncer under /usr/sbin, which a non-root PATH may lack.
  if (name === "pgbouncer") dirs.push("/usr/sbin");
  return dirs.map((dir) => join(dir, name)).find((file) => existsSync(file));
}

/** Resolves every binary or fails at once, naming the packages that provide the missing ones. */
export function requireBinaries<N extends Binary>(names: readonly N[]): Record<N, string> {
  const found = {} as Record<N, string>;
  const missing: N[] = [];
  for (const name of names) {
    const file = findBinary(name);
    if (file) found[name] = file;
    else missing.push(name);
  }
  if (missing.length > 0) {
    const packages = [...new Set(missing.map((n) => PACKAGE_OF[n]))];
    throw new StackError(`missing ${missing.join(", ")}`, `install with: apt-get install -y ${packages.join(" ")}`);
  }
  return found;
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** The pid in `file` if that process is alive and its command line contains `marker`. */
export function livePid(file: string, marker: string): number | undefined {
  if (!existsSync(file)) return undefined;
  const pid = Number.parseInt(readFileSync(file, "utf8"), 10);
  if (!Number.isInteger(pid) || pid <= 0 || !isAlive(pid)) return undefined;
  try {
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, "utf8").replaceAll("\0", " ");
    return cmdline.includes(marker) ? pid : undefined;
  } catch {
    return undefined;
  }
}

export function writePid(file: string, pid: number): void {
  writeFileSync(file, `${pid}\n`);
}

/** SIGTERM, then SIGKILL if the process has not gone within `graceMs`. */
export async function terminate(pid: number, graceMs = 15_000): Promise<void> {
  try {
    process.kill(pid, "SIGTERM");
  } catch {
    return;
  }
  if (await waitUntil(() => !isAlive(pid), graceMs, 100)) return;
  try {
    process.kill(pid, "SIGKILL");
  } catch {
    return;
  }
  await waitUntil(() => !isAlive(pid), 5_000, 50);
}

export async function waitUntil(
  probe: () => boolean | Promise<boolean>,
  timeoutMs: number,
  intervalMs = 200,
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await probe()) return true;
    if (Date.now() >= deadline) return false;
    await Bun.sleep(intervalMs);
  }
}

export function portIsOpen(port: number, host = "127.0.0.1", timeoutMs = 500): Promise<boolean> {
  return new Promise((done) => {
    const socket = connect({ port, host });
    const finish = (open: boolean) => {
      socket.destroy();
      done(open);
    };
    socket.setTimeout(timeoutMs, () => finish(false));
    socket.once("connect", () => finish(true));
    socket.once("error", () => finish(false));
  });
}

/**
 * Refuses to start on a port another process holds. A process that has just died (a crash,
 * `kill -9`) may hold it a moment longer, so a port that frees itself within 3 s is fine.
 */
export async function requireFreePort(port: number, hint: string): Promise<void> {
  const free = await waitUntil(async () => !(await portIsOpen(port)), 3_000, 100);
  if (!free) throw new StackError(`port ${port} is taken by a process this stack did not start`, hint);
}

/** Starts `argv` in its own session with stdout and stderr appended to `logFile`. */
export function spawnDetached(argv: string[], logFile: string, cwd?: string): number {
  const fd = openSync(logFile, "a");
  try {
    const child = Bun.spawn(argv, { cwd, stdin: "ignore", stdout: fd, stderr: fd, detached: true });
    child.unref();
    return child.pid;
  } finally {
    closeSync(fd);
  }
}

/** Runs a command to completion; a non-zero exit becomes a StackError carrying its output. */
export async function run(argv: string[], options: { cwd?: string; what: string }): Promise<string> {
  const child = Bun.spawn(argv, { cwd: options.cwd, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  const [stdout, stderr, code] = await Promise.all([
    new Response(child.stdout).text(),
    new Response(child.stderr).text(),
    child.exited,
  ]);
  if (code !== 0) {
    throw new StackError(`${options.what} failed (exit ${code})`, lastLines(`${stdout}\n${stderr}`, 15));
  }
  return stdout;
}

export function lastLines(text: string, count: number): string {
  return text.trimEnd().split("\n").slice(-count).join("\n");
}

export function tail(file: string, count = 20): string {
  return existsSync(file) ? lastLines(readFileSync(file, "utf8"), count) : `(no log at ${file})`;
}
