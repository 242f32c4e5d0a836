/**
 * Every command a user types answers a mistake with one line, the usage and exit 2, never a
 * stack trace: `flux-gate`, `npm run demo`, `npm run bench` (nothing starts on a mistake).
 */
import { expect, test } from "bun:test";
import { join } from "node:path";

const ROOT = join(import.meta.dir, "../..");

test.each([
  [
    "cli/flux-gate.ts",
    ["stack", "sideways"],
    'flux-gate: unknown command "stack sideways"',
    "usage: flux-gate <command>",
  ],
  ["demo/main.ts", ["--colour", "x"], "demo: Unknown option '--colour'", "usage: npm run demo"],
  ["demo/main.ts", ["--topology", "x"], 'demo: --topology takes one of single, scaled, not "x"', "usage: npm run demo"],
  [
    "bench/main.ts",
    ["--topology", "huge"],
    'bench: --topology takes one of single, scaled, not "huge"',
    "usage: npm run bench",
  ],
  [
    "cli/flux-gate.ts",
    ["stack", "up", "--topology", "x"],
    'flux-gate: --topology takes one of single, scaled, not "x"',
    "usage: flux-gate <command>",
  ],
  [
    "demo/main.ts",
    ["--buyers", "many"],
    'demo: --buyers takes a positive whole number, not "many"',
    "usage: npm run demo",
  ],
  ["bench/main.ts", ["--fast"], "bench: Unknown option '--fast'", "usage: npm run bench"],
  [
    "cli/flux-gate.ts",
    ["run", "--wan", "--wan-delay-ms", "abc"],
    'flux-gate: --wan-delay-ms takes whole milliseconds from 0 to 1000, not "abc"',
    "usage: flux-gate <command>",
  ],
  [
    "cli/flux-gate.ts",
    ["status", "--wan"],
    "flux-gate: --wan goes with run (npm start -- --wan)",
    "usage: flux-gate <command>",
  ],
  [
    "demo/main.ts",
    ["--wan", "--wan-delay-ms", "abc"],
    'demo: --wan-delay-ms takes whole milliseconds from 0 to 1000, not "abc"',
    "usage: npm run demo",
  ],
  [
    "demo/main.ts",
    ["--wan-chart", "x.svg"],
    "demo: --wan-delay-ms and --wan-chart go with --wan",
    "usage: npm run demo",
  ],
  [
    "bench/main.ts",
    ["--seconds", "0"],
    'bench: --seconds takes a positive whole number, not "0"',
    "usage: npm run bench",
  ],
])("%s %p: one line, the usage, exit 2", (script, args, message, usage) => {
  const run = Bun.spawnSync([process.execPath, join(ROOT, script), ...args], {
    stdin: "ignore",
    env: { ...process.env, FLUX_GATE_ENV: "development" },
  });
  const stderr = run.stderr.toString();
  expect(run.exitCode).toBe(2);
  expect(stderr).toStartWith(`${message}\n\n${usage}`);
  expect(stderr).not.toContain("    at ");
});
