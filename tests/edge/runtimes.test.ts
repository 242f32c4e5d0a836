/**
 * The edge contract over HTTP in each runtime the edge ships for: Bun (edge/entry/bun.ts),
 * Deno (the npm `deno` binary, edge/entry/deno.ts) and workerd (`wrangler dev`,
 * edge/entry/workers.ts). Each places orders all the way through to PostgreSQL.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { closeSync, openSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { regionVariable } from "../../shared/config.ts";
import { waitUntil } from "../../stack/process.ts";
import { config } from "../support/helpers.ts";
import { testRegion, withCoresAndWorkers } from "../support/harness.ts";
import { edgeContract } from "./contract.ts";
import { edgeEnv, overHttp, startRedisRestAdapters } from "../support/edge.ts";

const ROOT = join(import.meta.dir, "../..");
const BIN = join(ROOT, "node_modules/.bin");
const restAdapters = startRedisRestAdapters();
const env = edgeEnv(restAdapters.env);

/** The bindings a Worker gets: what differs from the defaults in the test environment. */
const bindings: Record<string, string> = {
  FLUX_GATE_REGIONS: config.regions.map((r) => r.id).join(","),
  FLUX_GATE_DEV_IDENTITY: "1",
  FLUX_GATE_RATE_LIMIT_USER: env.FLUX_GATE_RATE_LIMIT_USER!,
  FLUX_GATE_RATE_LIMIT_IP: env.FLUX_GATE_RATE_LIMIT_IP!,
  ...Object.fromEntries(config.regions.map((r) => [regionVariable("CORE_URL", r.id), testRegion(r.id).coreUrl])),
  ...(restAdapters.env as Record<string, string>),
};

const RUNTIMES = [
  {
    name: "bun",
    port: 18470,
    argv: () => [process.execPath, "edge/entry/bun.ts"],
    env: (port: number) => ({ FLUX_GATE_EDGE_PORT: String(port), FLUX_GATE_EDGE_METRICS_PORT: String(port + 100) }),
  },
  {
    name: "deno",
    port: 18471,
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
    port: 18472,
    argv: (port: number) => [
      join(BIN, "wrangler"),
      "dev",
      "--ip",
      "127.0.0.1",
      "--port",
      String(port),
      ...Object.entries(bindings).flatMap(([k, v]) => ["--var", `${k}:${v}`]),
    ],
    // Miniflare reads each request's `cf` object from this file: a country that is neither the
    // header the test sends nor the fallback, so only `cf.country` can pick eu-west.
    env: () => ({ WRANGLER_SEND_METRICS: "false", CLOUDFLARE_CF_FETCH_PATH: cfFile() }),
    cfCountry: "DE",
  },
];

const edges: ReturnType<typeof Bun.spawn>[] = [];

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

describe("edge runtimes", () => {
  withCoresAndWorkers(config.regions.map((r) => r.id));
  beforeAll(async () => {
    await Promise.all(
      RUNTIMES.map(async (runtime) => {
        const log = openSync(join(config.home, "logs", `test-edge-${runtime.name.split(" ")[0]}.log`), "a");
        const child = Bun.spawn(runtime.argv(runtime.port), {
          cwd: ROOT,
          env: { ...env, ...runtime.env(runtime.port) },
          stdin: "ignore",
          stdout: log,
          stderr: log,
        });
        closeSync(log);
        edges.push(child);
        const up = await waitUntil(
          () =>
            fetch(`http://127.0.0.1:${runtime.port}/health`).then(
              (r) => r.ok,
              () => false,
            ),
          60_000,
          250,
        );
        if (!up) throw new Error(`the ${runtime.name} edge did not start (see ${config.home}/logs/test-edge-*.log)`);
      }),
    );
  }, 120_000);

  afterAll(async () => {
    for (const edge of edges) edge.kill();
    await Promise.all(edges.map((e) => e.exited));
    restAdapters.stop();
  }, 30_000);

  test("the Bun edge serves /metrics on its private listener only, never on the buyers' port", async () => {
    const bun = RUNTIMES[0]!;
    const publicPort = await fetch(`http://127.0.0.1:${bun.port}/metrics`);
    expect(publicPort.status).toBe(404);
    expect(publicPort.headers.get("content-type")).toStartWith("application/problem+json");
    const privatePort = await fetch(`http://127.0.0.1:${bun.port + 100}/metrics`);
    expect(privatePort.status).toBe(200);
    expect(await privatePort.text()).toContain("flux_gate_http_request_duration_seconds");
  });

  for (const runtime of RUNTIMES) {
    describe(runtime.name, () =>
      edgeContract(overHttp(`http://127.0.0.1:${runtime.port}`), {
        cfCountry: "cfCountry" in runtime ? runtime.cfCountry : undefined,
      }),
    );
  }
});
