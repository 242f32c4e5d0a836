/** `npm run demo` end to end: it brings up what is missing, sells out, and PostgreSQL agrees; with `--crowd` too. */
import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import type { DemoReport } from "../../demo/report.ts";

describe("npm run demo", () => {
  test("sells every unit across the regions with nothing oversold or lost, by PostgreSQL", () => {
    const run = Bun.spawnSync(
      [
        process.execPath,
        join(import.meta.dir, "../../demo/main.ts"),
        "--buyers",
        "400",
        "--units",
        "150",
        "--concurrency",
        "32",
        "--json",
      ],
      { stdin: "ignore" },
    );
    const stderr = run.stderr.toString();
    expect(run.exitCode).toBe(0);
    const report = JSON.parse(run.stdout.toString()) as DemoReport;
    expect(report).toMatchObject({
      buyers: 400,
      units: 150,
      unitsSold: 150,
      oversold: 0,
      lost: 0,
      unexpected: 0,
      verifyDrifts: [],
    });
    expect(report.ordersInPostgres).toBe(report.accepted);
    expect(Object.values(report.regions).map((r) => r.sold)).toEqual([75, 75]);
    // Every buyer either bought or was told sold out, each in one row.
    expect(report.outcomes.accepted).toBe(report.accepted);
    for (const row of Object.keys(report.outcomes)) expect(row).toMatch(/^(accepted|sold out)/);
    expect(Object.values(report.outcomes).reduce((a, b) => a + b, 0)).toBe(400);
    expect(report.drainSeconds).not.toBeNull();
    // The live line was drawn (stderr is not a terminal here: one line a second).
    expect(stderr).toMatch(/\d+\/400 buyers · \d+ requests/);
  }, 120_000);

  test("with a crowd at a waiting room, every buyer ends in a named row and PostgreSQL agrees", () => {
    const run = Bun.spawnSync(
      [
        process.execPath,
        join(import.meta.dir, "../../demo/main.ts"),
        "--crowd",
        "10x",
        "--buyers",
        "300",
        "--units",
        "60",
        "--json",
      ],
      { stdin: "ignore" },
    );
    expect(run.exitCode).toBe(0);
    const report = JSON.parse(run.stdout.toString()) as DemoReport;
    expect(report).toMatchObject({ buyers: 300, unitsSold: 60, oversold: 0, lost: 0, unexpected: 0, verifyDrifts: [] });
    expect(report.outcomes.accepted).toBe(report.accepted);
    expect(Object.values(report.outcomes).reduce((a, b) => a + b, 0)).toBe(300);
    // 60 units for 300 buyers: each of the rest was told sold out, in the queue or once admitted.
    for (const row of Object.keys(report.outcomes)) expect(row).toMatch(/^(accepted|sold out)/);
  }, 120_000);
});
