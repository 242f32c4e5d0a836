/**
 * Flux-Gate's own processes for `npm start`: a REST gateway, a core and a worker per region,
 * the admin API and the Bun edge; each a child process with its own log file, stopped together.
 */
import { closeSync, openSync } from "node:fs";
import { join } from "node:path";
import type { Config } from "../shared/config.ts";
import { StackError, tail, waitUntil } from "./process.ts";
import { stackPaths } from "./services/service.ts";

const ROOT = join(import.meta.dir, "..");

export interface App {
  name: string;
  url?: string;
  log: string;
  stop(): Promise<void>;
}

function spawnApp(config: Config, name: string, argv: string[], env: Record<string, string> = {}): { app: App; exited: Promise<number> } {
  const log = stackPaths(config).log(name);
  const fd = openSync(log, "a");
  const child = Bun.spawn([process.execPath, ...argv.map((a, i) => (i === 0 ? join(ROOT, a) : a))], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdin: "ignore",
    stdout: fd,
    stderr: fd,
  });
  closeSync(fd);
  const app: App = {
    name,
    log,
    async stop() {
      child.kill("SIGTERM");
      await child.exited;
    },
  };
  return { app, exited: child.exited };
}

/** Whether the server at `url` answers its /health within a second. */
export function answersHealth(url: string): Promise<boolean> {
  return fetch(`${url}/health`, { signal: AbortSignal.timeout(1_000) }).then((r) => r.ok, () => false);
}

/** Starts `entry` and resolves once `url`/health answers; throws with its log's tail if it does not. */
async function startServer(config: Config, name: string, argv: string[], url: string, env?: Record<string, string>): Promise<App> {
  const { app, exited } = spawnApp(config, name, argv, env);
  let gone = false;
  void exited.then(() => (gone = true));
  const healthy = await waitUntil(async () => gone || (await answersHealth(url)), 15_000, 100);
  if (!healthy || gone) {
    await app.stop();
    throw new StackError(`${name} did not start`, tail(app.log));
  }
  return { ...app, url };
}

/** Starts every region's gateway, core and worker, the admin API and the edge; resolves once the servers answer /health. */
export async function startApps(config: Config, progress: (name: string, message: string) => void): Promise<App[]> {
  const apps: App[] = [];
  try {
    for (const region of config.regions) {
      if (!region.redisRestExternal) {
        apps.push(await startServer(config, `gateway-${region.id}`, ["gateway/main.ts", "--region", region.id], region.redisRestUrl));
        progress(`gateway-${region.id}`, `ready at ${region.redisRestUrl}`);
      }
      apps.push(await startServer(config, `core-${region.id}`, ["core/main.ts", "--region", region.id], region.coreUrl));
      progress(`core-${region.id}`, `ready at ${region.coreUrl}`);

      apps.push(await startServer(config, `worker-${region.id}`, ["worker/main.ts", "--region", region.id], region.workerUrl));
      progress(`worker-${region.id}`, `ready at ${region.workerUrl}, consuming ${region.kafkaTopic}`);
    }
    apps.push(await startServer(config, "admin", ["admin/main.ts"], config.admin.url));
    progress("admin", `ready at ${config.admin.url}`);
    // A local run with no JWT configuration trusts X-User-Id: the explicit development mode.
    const devIdentity = !config.edge.jwtSecret && !config.edge.jwksUrl && config.mode === "development";
    const edgeUrl = `http://127.0.0.1:${config.edge.port}`;
    apps.push(await startServer(config, "edge", ["edge/entry/bun.ts"], edgeUrl, devIdentity ? { FLUX_GATE_DEV_IDENTITY: "1" } : {}));
    progress("edge", `ready at ${edgeUrl}${devIdentity ? " (development identity: X-User-Id is trusted)" : ""}`);
    return apps;
  } catch (error) {
    await stopApps(apps);
    throw error;
  }
}

/** Every endpoint of Flux-Gate's own processes on this configuration, as `npm start` runs them. */
export function appEndpoints(config: Config) {
  return {
    edge: `http://127.0.0.1:${config.edge.port}`,
    admin: config.admin.url,
    dashboard: `${config.admin.url}/dashboard`,
    regions: Object.fromEntries(
      config.regions.map((r) => [r.id, { core: r.coreUrl, gateway: r.redisRestUrl, worker: r.workerUrl }]),
    ),
  };
}

/** Which of those answer /health now. */
export async function appStatus(config: Config): Promise<{ name: string; url: string; state: "running" | "stopped" }[]> {
  const e = appEndpoints(config);
  const named = [
    ...Object.entries(e.regions).flatMap(([id, r]) => [
      { name: `gateway-${id}`, url: r.gateway },
      { name: `core-${id}`, url: r.core },
      { name: `worker-${id}`, url: r.worker },
    ]),
    { name: "admin", url: e.admin },
    { name: "edge", url: e.edge },
  ];
  return Promise.all(
    named.map(async (app) => {
      const up = await answersHealth(app.url);
      return { ...app, state: up ? ("running" as const) : ("stopped" as const) };
    }),
  );
}

export async function stopApps(apps: App[]): Promise<void> {
  await Promise.all(apps.map((a) => a.stop()));
}
