/**
 * The edge as each runtime it ships for runs it, over HTTP: Bun (edge/entry/bun.ts), Deno (the
 * npm `deno` binary, edge/entry/deno.ts) and workerd (`wrangler dev`, edge/entry/workers.ts).
 * Bun and Deno read the process environment; a Worker only its bindings.
 */
import { closeSync, openSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { regionVariable } from "../../shared/config.ts";
import { waitUntil } from "../../stack/process.ts";
import { config } from "./helpers.ts";
import { testRegion } from "./harness.ts";
import type { Env } from "./edge.ts";

const ROOT = join(import.meta.dir, "../..");
const BIN = join(ROOT, "node_modules/.bin");

export interface RuntimeEdge {
  name: string;
  port: number;
  /** The country workerd's `request.cf` carries (the other runtimes have none). */
  cfCountry?: string;
}

/**
 * The three edges, on `ports` (Bun's /metrics on its port + 100), each run with `env` (`env`'s
 * FLUX_GATE_* settings become the Worker's bindings, beside the test cores' URLs and `bindings`).
 * `label` names their logs apart from other runs' edges.
 */
export function edgeRuntimes(env: Env, ports: [number, number, number], label: string, bindings: Env = {}) {
  const vars: Record<string, string> = {
    FLUX_GATE_REGIONS: config.regions.map((r) => r.id).join(","),
    ...Object.fromEntries(config.regions.map((r) => [regionVariable("CORE_URL", r.id), testRegion(r.id).coreUrl])),
    ...(bindings as Record<string, string>),
  };
  const runtimes = [
    {
      name: "bun",
      port: ports[0],
      argv: () => [process.execPath, "edge/entry/bun.ts"],
      env: (port: number) => ({ FLUX_GATE_EDGE_PORT: String(port), FLUX_GATE_EDGE_METRICS_PORT: String(port + 100) }),
    },
    {
      name: "deno",
      port: ports[1],
      argv: () => [
        join(BIN, "deno"),
        "run",
        "--allow-net",
        "--allow-env",
        "--allow-read",
        "--allow-sys",
        "edge/entry/deno.ts",
      ],
      env: (port: number) => ({ FLUX_GATE_EDGE_PORT: String(port) }),
    },
    {
      name: "workerd (wrangler dev)",
      port: ports[2],
      argv: (port: number) => [
        join(BIN, "wrangler"),
        "dev",
        "--ip",
        "127.0.0.1",
        "--port",
        String(port),
        ...Object.entries(vars).flatMap(([k, v]) => ["--var", `${k}:${v}`]),
      ],
      // Miniflare reads each request's `cf` object from this file: a country that is neither the
      // header the test sends nor the fallback, so only `cf.country` can pick eu-west.
      env: () => ({ WRANGLER_SEND_METRICS: "false", CLOUDFLARE_CF_FETCH_PATH: cfFile() }),
      cfCountry: "DE",
    },
  ];
  const children: ReturnType<typeof Bun.spawn>[] = [];
  return {
    runtimes: runtimes as RuntimeEdge[],
    async start() {
      await Promise.all(
        runtimes.map(async (runtime) => {
          const logName = `test-edge-${label}${runtime.name.split(" ")[0]}.log`;
          const log = openSync(join(config.home, "logs", logName), "a");
          const child = Bun.spawn(runtime.argv(runtime.port), {
            cwd: ROOT,
            env: { ...env, ...runtime.env(runtime.port) },
            stdin: "ignore",
            stdout: log,
            stderr: log,
          });
          closeSync(log);
          children.push(child);
          const up = await waitUntil(
            () =>
              fetch(`http://127.0.0.1:${runtime.port}/health`).then(
                (r) => r.ok,
                () => false,
              ),
            60_000,
            250,
          );
          if (!up) throw new Error(`the ${runtime.name} edge did not start (see ${config.home}/logs/${logName})`);
        }),
      );
    },
    async stop() {
      for (const child of children) child.kill();
      await Promise.all(children.map((c) => c.exited));
    },
  };
}

function cfFile(): string {
  const path = join(config.home, "test-workerd-cf.json");
  writeFileSync(
    path,
    JSON.stringify({
      country: "DE",
      colo: "FRA",
      continent: "EU",
      timezone: "Europe/Berlin",
      httpProtocol: "HTTP/1.1",
    }),
  );
  return path;
}
