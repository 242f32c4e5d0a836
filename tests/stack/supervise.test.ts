/**
 * `npm start` as an operator meets it (`flux-gate run`, real processes): a core killed with -9
 * comes back by itself and `flux-gate status` counts the restart; a second launcher on the same
 * checkout refuses; a second Ctrl-C stops everything at once.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { answersHealth } from "../../stack/apps.ts";
import { waitUntil } from "../../stack/process.ts";
import { config } from "../support/helpers.ts";

const ROOT = join(import.meta.dir, "../..");
const CLI = join(ROOT, "cli/flux-gate.ts");
const env = { ...process.env, FLUX_GATE_ENV: "development" };
const region = config.regions[0]!;

describe("flux-gate run (npm start)", () => {
  const launcher = Bun.spawn([process.execPath, CLI, "run"], { cwd: ROOT, env, stdout: "pipe", stderr: "pipe" });
  const output = { text: "" };
  for (const stream of [launcher.stdout, launcher.stderr]) {
    void (async () => {
      for await (const chunk of stream) output.text += new TextDecoder().decode(chunk);
    })();
  }
  afterAll(async () => {
    launcher.kill("SIGKILL");
    await launcher.exited;
  });

  test("starts the whole system", async () => {
    expect(await waitUntil(() => output.text.includes("Flux-Gate is up"), 120_000, 200)).toBe(true);
  }, 130_000);

  test("a second launcher on the same checkout refuses, naming the first", () => {
    const second = Bun.spawnSync([process.execPath, CLI, "run"], { cwd: ROOT, env, timeout: 30_000 });
    expect(second.exitCode).toBe(1);
    expect(second.stderr.toString()).toContain(
      `flux-gate: Flux-Gate is already running from this checkout (launcher pid ${launcher.pid})`,
    );
  });

  test("a core killed with -9 is back within 5 s, and status shows one restart", async () => {
    const state = JSON.parse(readFileSync(join(config.home, "run", "apps.json"), "utf8")) as {
      apps: Record<string, { pid: number }>;
    };
    const core = state.apps[`core-${region.id}`]!.pid;
    process.kill(core, "SIGKILL");
    const killedAt = performance.now();
    expect(await waitUntil(async () => !(await answersHealth(region.coreUrl)), 2_000, 20)).toBe(true);
    expect(await waitUntil(() => answersHealth(region.coreUrl), 5_000, 50)).toBe(true);
    console.error(`  core back after ${Math.round(performance.now() - killedAt)} ms`);
    expect(output.text).toContain(`core-${region.id}`);
    expect(output.text).toContain("exited (SIGKILL); starting it again");

    const status = Bun.spawnSync([process.execPath, CLI, "status", "--json"], { cwd: ROOT, env, timeout: 30_000 });
    const apps = (
      JSON.parse(status.stdout.toString()) as { apps: { name: string; state: string; restarts?: number }[] }
    ).apps;
    expect(apps.find((a) => a.name === `core-${region.id}`)).toMatchObject({ state: "running", restarts: 1 });
    expect(apps.find((a) => a.name === `worker-${region.id}`)).toMatchObject({ state: "running", restarts: 0 });
  }, 30_000);

  test("Ctrl-C, then Ctrl-C again: everything stops at once, and it says so", async () => {
    launcher.kill("SIGINT");
    expect(await waitUntil(() => output.text.includes("Ctrl-C again stops everything at once"), 5_000, 20)).toBe(true);
    launcher.kill("SIGINT");
    expect(await launcher.exited).toBe(130);
    expect(output.text).toContain("stopping everything at once");
    expect(await answersHealth(region.coreUrl)).toBe(false);
    expect(await answersHealth(config.edge.url)).toBe(false);
  }, 30_000);
});
