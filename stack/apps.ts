/**
 * Flux-Gate's own processes for `npm start`: a core and a worker per region, each a child
 * process with its own log file, stopped together.
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

function spawnApp(config: Config, name: string, entry: string, regionId: string): { app: App; exited: Promise<number> } {
  const log = stackPaths(config).log(name);
  const fd = openSync(log, "a");
  const child = Bun.spawn([process.execPath, join(ROOT, entry), "--region", regionId], {
    cwd: ROOT,
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

/** Starts every region's core and worker; resolves once each core answers /health. */
export async function startApps(config: Config, progress: (name: string, message: string) => void): Promise<App[]> {
  const apps: App[] = [];
  try {
    for (const region of config.regions) {
      const core = spawnApp(config, `core-${region.id}`, "core/main.ts", region.id);
      apps.push({ ...core.app, url: region.coreUrl });
      let exited = false;
      void core.exited.then(() => (exited = true));
      const healthy = await waitUntil(async () => exited || (await fetch(`${region.coreUrl}/health`).then((r) => r.ok, () => false)), 15_000, 100);
      if (!healthy || exited) throw new StackError(`core-${region.id} did not start`, tail(core.app.log));
      progress(`core-${region.id}`, `ready at ${region.coreUrl}`);

      const worker = spawnApp(config, `worker-${region.id}`, "worker/main.ts", region.id);
      apps.push(worker.app);
      progress(`worker-${region.id}`, `started on ${region.kafkaTopic}`);
    }
    return apps;
  } catch (error) {
    await stopApps(apps);
    throw error;
  }
}

export async function stopApps(apps: App[]): Promise<void> {
  await Promise.all(apps.map((a) => a.stop()));
}
