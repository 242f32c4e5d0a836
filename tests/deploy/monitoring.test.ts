/**
 * The monitoring kit under deploy/: Prometheus's own tool checks the rules and the scrape
 * configuration and runs the rules' unit tests; every metric the rules and the Grafana dashboard
 * name is one that a real Flux-Gate process exports (a renamed metric fails here, not on the
 * night of a sale).
 */
import { afterAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { allowEverything } from "../../redis-rest/allow-list.ts";
import { createRedisRestApp } from "../../redis-rest/app.ts";
import { createRegistry, instrument, metricsResponse } from "../../shared/metrics.ts";
import { connectRedis } from "../../shared/redis.ts";
import { config } from "../support/helpers.ts";
import { edgeApp, edgeEnv } from "../support/edge.ts";
import { testRegion, withCoresAndWorkers } from "../support/harness.ts";

const PROMETHEUS = join(import.meta.dir, "../../deploy/prometheus");
const rules = readFileSync(join(PROMETHEUS, "flux-gate.rules.yml"), "utf8");
const dashboard = JSON.parse(readFileSync(join(import.meta.dir, "../../deploy/grafana/flux-gate.json"), "utf8")) as {
  panels: { title: string; targets: { expr: string }[] }[];
};

function promtool(...args: string[]) {
  const binary = Bun.which("promtool");
  if (!binary) throw new Error("no promtool: apt-get install -y prometheus (Debian's package carries it)");
  const run = Bun.spawnSync([binary, ...args], { cwd: PROMETHEUS });
  return { code: run.exitCode, output: run.stdout.toString() + run.stderr.toString() };
}

/** Metric names a PromQL expression reads: Flux-Gate's own (`flux_gate_…`, recorded `flux_gate:…`) and `up`. */
const namesIn = (expr: string) => [...expr.matchAll(/\b(flux_gate[_:][a-zA-Z0-9_:]+|up)\b/g)].map((m) => m[1]!);

/** The series names a /metrics text exports: a histogram's _bucket, _sum and _count included. */
function exported(text: string): string[] {
  return [...text.matchAll(/^# TYPE (\S+) (\S+)$/gm)].flatMap(([, name, type]) =>
    type === "histogram"
      ? [`${name}_bucket`, `${name}_sum`, `${name}_count`]
      : type === "summary"
        ? [name!, `${name}_sum`, `${name}_count`]
        : [name!],
  );
}

describe("promtool", () => {
  test("the rules and the scrape configuration are valid", () => {
    const checked = promtool("check", "config", "prometheus.yml");
    expect(checked.output).toContain("SUCCESS: 11 rules found");
    expect(checked.code).toBe(0);
  });

  test("the rules' unit tests pass: each alert fires on what should wake someone, and not on its near miss", () => {
    const tested = promtool("test", "rules", "flux-gate.rules.test.yml");
    expect(tested.output).toContain("SUCCESS");
    expect(tested.code).toBe(0);
  });
});

describe("metric names", () => {
  const region = config.regions[0]!.id;
  withCoresAndWorkers([region]);
  const redis = connectRedis(config.regions[0]!.redisUrl);
  afterAll(() => redis.disconnect());

  async function everyExportedName(): Promise<Set<string>> {
    const edgeRegistry = createRegistry("edge");
    edgeApp(edgeEnv({}), { instrument: (app) => instrument(app, edgeRegistry, { serve: false }) });
    const restAdapter = createRedisRestApp({
      redis,
      token: "t",
      allow: allowEverything,
      registry: createRegistry("redis-rest", region),
    });
    const texts = await Promise.all([
      fetch(`${testRegion(region).coreUrl}/metrics`).then((r) => r.text()),
      fetch(`${testRegion(region).workerUrl}/metrics`).then((r) => r.text()),
      metricsResponse(edgeRegistry).then((r) => r.text()),
      Promise.resolve(restAdapter.request("/metrics")).then((r) => r.text()),
    ]);
    // `up` is Prometheus's own, one per scraped target.
    return new Set(["up", ...texts.flatMap(exported)]);
  }

  test("every metric the Grafana dashboard and the alerts read is exported by a process, or recorded by a rule", async () => {
    const known = await everyExportedName();
    const recorded = [...rules.matchAll(/^\s*- record: (\S+)$/gm)].map((m) => m[1]!);
    expect(recorded.length).toBeGreaterThan(0);
    const readByRules = [...rules.matchAll(/^\s*expr: (.+)$/gm)].flatMap((m) => namesIn(m[1]!));
    const readByPanels = dashboard.panels.flatMap((p) =>
      p.targets.flatMap((t) => namesIn(t.expr).map((name) => `${name} (panel "${p.title}")`)),
    );
    const unknown = [...readByRules, ...readByPanels].filter((entry) => {
      const name = entry.split(" ")[0]!;
      return !known.has(name) && !recorded.includes(name);
    });
    expect(unknown).toEqual([]);
    expect(readByPanels.length).toBeGreaterThan(10);
  });
});
