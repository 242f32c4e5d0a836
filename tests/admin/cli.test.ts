/** `flux-gate products …` against a running admin API: what an admin types, what they read back. */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { DEVELOPMENT_ADMIN_TOKEN } from "../../shared/config.ts";
import { uniqueName } from "../support/helpers.ts";
import { startAdmin, startCore, testAdminUrl, type Child } from "../support/harness.ts";

const CLI = join(import.meta.dir, "../../cli/flux-gate.ts");

function flux(args: string[], env: Record<string, string> = {}) {
  const result = Bun.spawnSync([process.execPath, CLI, ...args], {
    stdin: "ignore",
    env: { ...process.env, FLUX_GATE_ADMIN_URL: testAdminUrl, ...env },
  });
  return { code: result.exitCode, stdout: result.stdout.toString(), stderr: result.stderr.toString() };
}

describe("flux-gate products", () => {
  const children: Child[] = [];
  beforeAll(async () => {
    for (const region of ["us-east", "eu-west"]) children.push(await startCore(region));
    children.push(await startAdmin());
  }, 60_000);
  afterAll(async () => {
    await Promise.all(children.map((c) => c.kill()));
  }, 30_000);

  test("create, allocate, transfer and show a product", () => {
    const id = uniqueName("cli");
    const created = flux([
      "products",
      "create",
      id,
      "--name",
      "CLI phone",
      "--total",
      "100",
      "--starts",
      "now",
      "--ends",
      "+2h",
      "--per-user",
      "2",
      "--max-per-order",
      "2",
      "--hold",
      "300",
      "--allocate",
      "us-east=40,eu-west=40",
    ]);
    expect(created).toMatchObject({ code: 0, stderr: "" });
    expect(created.stdout).toContain(`created ${id}`);
    expect(created.stdout).toContain("pool 20, in transit 0, available to buyers 80");

    const allocated = flux(["products", "allocate", id, "us-east=30", "eu-west=60"]);
    expect(allocated.code).toBe(0);
    expect(allocated.stdout).toMatch(/us-east\s+30\s+30\s+0\s+0/);
    expect(allocated.stdout).toMatch(/eu-west\s+60\s+60\s+0\s+0/);

    const transferId = crypto.randomUUID();
    const transfer = [
      "products",
      "transfer",
      id,
      "--from",
      "eu-west",
      "--to",
      "us-east",
      "--units",
      "25",
      "--id",
      transferId,
    ];
    expect(flux(transfer).stdout.trim()).toBe(`transfer ${transferId}: 25 units of ${id} eu-west → us-east: completed`);
    expect(flux(transfer).code).toBe(0);

    const shown = flux(["products", "show", id, "--json"]);
    const view = JSON.parse(shown.stdout) as {
      unallocated: number;
      regions: { region: string; live: { allocated: number } }[];
    };
    expect(view.unallocated).toBe(10);
    expect(view.regions.map((r) => [r.region, r.live.allocated])).toEqual([
      ["us-east", 55],
      ["eu-west", 35],
    ]);
    expect(flux(["transfers", "show", transferId]).stdout).toContain("completed");
    // Nothing sold yet: rebalancing has nothing to go by and leaves the pool alone.
    const rebalanced = flux(["products", "rebalance", id, "--window", "5"]);
    expect(rebalanced.code).toBe(0);
    expect(rebalanced.stdout).toContain("rebalanced over the last 5 min: nothing (no sales in the window, or no pool)");
    expect(rebalanced.stdout).toContain("pool 10");
  });

  test("a refusal prints its problem code and detail on one line and exits 1", () => {
    const id = uniqueName("cli");
    expect(
      flux([
        "products",
        "create",
        id,
        "--name",
        "x",
        "--total",
        "10",
        "--starts",
        "now",
        "--ends",
        "+1h",
        "--per-user",
        "1",
        "--max-per-order",
        "1",
        "--hold",
        "0",
        "--allocate",
        "us-east=10",
      ]).code,
    ).toBe(0);
    const cases: [string[], Record<string, string>, RegExp][] = [
      [
        ["products", "transfer", id, "--from", "us-east", "--to", "eu-west", "--units", "11"],
        {},
        /^flux-gate: insufficient_available: /,
      ],
      [["products", "show", uniqueName("none")], {}, /^flux-gate: unknown_product: no product /],
      [
        ["products", "claim", id, "--region", "us-east", "--units", "1"],
        { FLUX_GATE_ADMIN_TOKEN: `${DEVELOPMENT_ADMIN_TOKEN}-eu-west` },
        /^flux-gate: forbidden: dev-eu-west lacks scope region:us-east or global$/,
      ],
      [
        ["products", "list"],
        { FLUX_GATE_ADMIN_URL: "http://127.0.0.1:1" },
        /^flux-gate: cannot reach the admin API at http:\/\/127.0.0.1:1 .*is npm start running\?$/,
      ],
    ];
    for (const [args, env, message] of cases) {
      const result = flux(args, env);
      expect(result.code).toBe(1);
      expect(result.stderr.trim()).toMatch(message);
      expect(result.stderr.trim().split("\n")).toHaveLength(1);
    }
  });

  test("a mistake on the command line exits 2 with the usage", () => {
    for (const args of [
      ["products", "claim", "x", "--region", "us-east", "--units", "many"],
      ["products", "frobnicate"],
      ["products", "transfer", "x", "--units", "1"],
      ["products", "create", "x", "--name", "no total, window or limits"],
    ]) {
      const result = flux(args);
      expect(result.code).toBe(2);
      expect(result.stderr).toContain("usage: flux-gate");
    }
  });
});
