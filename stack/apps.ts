/**
 * Flux-Gate's own processes for `npm start`: a Redis REST adapter, a core and a worker per region,
 * the admin API and the Bun edge; each a child process with its own log file, started again
 * with backoff when it exits on its own, stopped together.
 */
import { closeSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Config, Region } from "../shared/config.ts";
import { isAlive, StackError, tail, waitUntil } from "./process.ts";
import { stackPaths } from "./services/service.ts";
import type { WanLayout } from "./wan.ts";

const ROOT = join(import.meta.dir, "..");

export interface App {
  name: string;
  url?: string;
  log: string;
  /** Times it was started again after it exited on its own. */
  readonly restarts: number;
  /** SIGTERM, then wait: the app finishes what it is doing. */
  stop(): Promise<void>;
  /** SIGKILL, no waiting: the second Ctrl-C. */
  kill(): void;
}

/**
 * How long to wait before starting an app again: 250 ms, doubling with each exit that came
 * soon after a start (a crash loop), at most 10 s. Pure.
 */
export function restartDelayMs(quickExits: number): number {
  return Math.min(250 * 2 ** Math.max(0, quickExits - 1), 10_000);
}
/** An app that ran this long before it exited was not crash-looping: the backoff starts over. */
const STEADY_MS = 10_000;

export type AppEvent = (name: string, message: string) => void;

/** Whether the server at `url` answers its /health within a second. */
export function answersHealth(url: string): Promise<boolean> {
  return fetch(`${url}/health`, { signal: AbortSignal.timeout(1_000) }).then(
    (r) => r.ok,
    () => false,
  );
}

/**
 * Starts `argv` and resolves once `url`/health answers (throws with its log's tail if it does
 * not); from then on, an exit nobody asked for starts it again with backoff, noted in `state`.
 */
async function supervise(
  config: Config,
  state: AppState,
  name: string,
  argv: string[],
  url: string,
  onEvent: AppEvent,
  env: Record<string, string> = {},
): Promise<App> {
  const log = stackPaths(config).log(name);
  let child = spawnProcess(log, argv, env);
  let stopping = false;
  let restarts = 0;
  let quickExits = 0;

  let gone = false;
  void child.exited.then(() => (gone = true));
  const healthy = await waitUntil(async () => gone || (await answersHealth(url)), 15_000, 100);
  if (!healthy || gone) {
    child.kill("SIGTERM");
    await child.exited;
    throw new StackError(`${name} did not start`, tail(log));
  }
  state.note(name, { pid: child.pid, restarts });

  const watch = async () => {
    while (!stopping) {
      const startedAt = Date.now();
      const code = await child.exited;
      if (stopping) return;
      quickExits = Date.now() - startedAt < STEADY_MS ? quickExits + 1 : 1;
      const delay = restartDelayMs(quickExits);
      onEvent(
        name,
        `exited (${child.signalCode ?? `code ${code}`}); starting it again in ${(delay / 1000).toFixed(2)} s (restart ${restarts + 1}, log ${log})`,
      );
      await Bun.sleep(delay);
      if (stopping) return;
      child = spawnProcess(log, argv, env);
      restarts++;
      state.note(name, { pid: child.pid, restarts });
    }
  };
  void watch();

  return {
    name,
    url,
    log,
    get restarts() {
      return restarts;
    },
    async stop() {
      stopping = true;
      child.kill("SIGTERM");
      await child.exited;
    },
    kill() {
      stopping = true;
      child.kill("SIGKILL");
    },
  };
}

/** A Flux-Gate process (`argv[0]` relative to the repository) with its output appended to `log`. */
export function spawnProcess(log: string, argv: string[], env: Record<string, string>) {
  const fd = openSync(log, "a");
  const child = Bun.spawn([process.execPath, ...argv.map((a, i) => (i === 0 ? join(ROOT, a) : a))], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdin: "ignore",
    stdout: fd,
    stderr: fd,
  });
  closeSync(fd);
  return child;
}

/**
 * What `npm start` runs, for `flux-gate status` in another terminal: the launcher's pid (a
 * second launcher on the same checkout refuses to start) and each app's pid and restarts.
 */
interface RunState {
  launcher: number;
  apps: Record<string, { pid: number; restarts: number }>;
}

const statePath = (config: Config) => join(stackPaths(config).run, "apps.json");

function readState(config: Config): RunState | undefined {
  try {
    return JSON.parse(readFileSync(statePath(config), "utf8")) as RunState;
  } catch {
    return undefined;
  }
}

export interface AppState {
  note(name: string, app: { pid: number; restarts: number }): void;
  release(): void;
}

/** Claims this checkout for one launcher; refuses while another one runs. */
export function claimRun(config: Config): AppState {
  const other = readState(config)?.launcher;
  if (other && other !== process.pid && isAlive(other)) {
    throw new StackError(
      `Flux-Gate is already running from this checkout (launcher pid ${other})`,
      "stop it with Ctrl-C in its terminal, or: npx flux-gate status",
    );
  }
  const state: RunState = { launcher: process.pid, apps: {} };
  mkdirSync(stackPaths(config).run, { recursive: true });
  const save = () => writeFileSync(statePath(config), JSON.stringify(state));
  save();
  return {
    note(name, app) {
      state.apps[name] = app;
      save();
    },
    release: () => rmSync(statePath(config), { force: true }),
  };
}

/**
 * Starts every region's REST adapter, core and worker, the admin API and the edge; resolves once
 * the servers answer /health. With `wan` (`--wan`), the WAN relays (stack/wan-proxy.ts) and one
 * edge per region instead, each reaching the other regions through the relays.
 */
export async function startApps(
  config: Config,
  state: AppState,
  progress: AppEvent,
  { wan }: { wan?: WanLayout } = {},
): Promise<App[]> {
  const apps: App[] = [];
  const startServer = (name: string, argv: string[], url: string, env?: Record<string, string>) =>
    supervise(config, state, name, argv, url, progress, env);
  try {
    for (const region of config.regions) {
      if (!region.redisRestExternal) {
        apps.push(
          await startServer(
            `redis-rest-${region.id}`,
            ["redis-rest/main.ts", "--region", region.id],
            region.redisRestUrl,
          ),
        );
        progress(`redis-rest-${region.id}`, `ready at ${region.redisRestUrl}`);
      }
      for (const [n, core] of region.cores.entries()) {
        const name = instanceName("core", region, n);
        apps.push(
          await startServer(name, ["core/main.ts", "--region", region.id, "--instance", String(n + 1)], core.url),
        );
        progress(name, `ready at ${core.url}`);
      }
      for (const [n, worker] of region.workers.entries()) {
        const name = instanceName("worker", region, n);
        apps.push(
          await startServer(name, ["worker/main.ts", "--region", region.id, "--instance", String(n + 1)], worker.url),
        );
        progress(name, `ready at ${worker.url}, consuming ${region.kafkaTopic}`);
      }
    }
    apps.push(await startServer("admin", ["admin/main.ts"], config.admin.url));
    progress("admin", `ready at ${config.admin.url}`);
    // A local run with no JWT configuration trusts X-User-Id: the explicit development mode.
    const devIdentity = !config.edge.jwtSecret && !config.edge.jwksUrl && config.mode === "development";
    const identityEnv: Record<string, string> = devIdentity ? { FLUX_GATE_DEV_IDENTITY: "1" } : {};
    const trusted = devIdentity ? " (development identity: X-User-Id is trusted)" : "";
    if (wan) {
      apps.push(
        await startServer("wan-proxy", ["stack/wan-proxy.ts", "--delay-ms", String(wan.delayMs)], wan.controlUrl),
      );
      progress(
        "wan-proxy",
        `${wan.delayMs} ms each way: ${wan.links.map((l) => `${l.name} at :${l.listenPort}`).join(", ")}`,
      );
      for (const edge of wan.edges) {
        apps.push(await startServer(edge.name, ["edge/entry/bun.ts"], edge.url, { ...identityEnv, ...edge.env }));
        progress(edge.name, `ready at ${edge.url}, the other regions through the WAN relays${trusted}`);
      }
      return apps;
    }
    const edgeUrl = config.edge.url;
    apps.push(await startServer("edge", ["edge/entry/bun.ts"], edgeUrl, identityEnv));
    progress("edge", `ready at ${edgeUrl}${trusted}`);
    return apps;
  } catch (error) {
    await stopApps(apps);
    throw error;
  }
}

/** `core-us-east`, and `core-us-east-2` for a region's second. */
export const instanceName = (kind: "core" | "worker", region: Region, n: number) =>
  n === 0 ? `${kind}-${region.id}` : `${kind}-${region.id}-${n + 1}`;

/** Every endpoint of Flux-Gate's own processes on this configuration, as `npm start` runs them. */
export function appEndpoints(config: Config) {
  return {
    edge: config.edge.url,
    admin: config.admin.url,
    dashboard: `${config.admin.url}/dashboard`,
    regions: Object.fromEntries(
      config.regions.map((r) => [
        r.id,
        {
          core: r.coreUrl,
          redisRest: r.redisRestUrl,
          worker: r.workerUrl,
          ...(r.cores.length > 1 ? { cores: r.cores.map((c) => c.url), workers: r.workers.map((w) => w.url) } : {}),
        },
      ]),
    ),
  };
}

/** Which of those answer /health now, and how often `npm start` restarted each. */
export async function appStatus(
  config: Config,
): Promise<{ name: string; url: string; state: "running" | "stopped"; restarts?: number }[]> {
  const run = readState(config);
  const supervised = run && isAlive(run.launcher) ? run.apps : {};
  const e = appEndpoints(config);
  const named = [
    ...config.regions.flatMap((r) => [
      { name: `redis-rest-${r.id}`, url: r.redisRestUrl },
      ...r.cores.map((core, n) => ({ name: instanceName("core", r, n), url: core.url })),
      ...r.workers.map((worker, n) => ({ name: instanceName("worker", r, n), url: worker.url })),
    ]),
    { name: "admin", url: e.admin },
    { name: "edge", url: e.edge },
  ];
  return Promise.all(
    named.map(async (app) => {
      const up = await answersHealth(app.url);
      return {
        ...app,
        state: up ? ("running" as const) : ("stopped" as const),
        ...(supervised[app.name] ? { restarts: supervised[app.name]!.restarts } : {}),
      };
    }),
  );
}

export async function stopApps(apps: App[]): Promise<void> {
  await Promise.all(apps.map((a) => a.stop()));
}
