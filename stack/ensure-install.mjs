// Runs before `npm start` and `npm test`, so that on a fresh clone the two README commands
// are the whole set-up. Plain Node on purpose: Bun itself arrives with this install.
import { execSync } from "node:child_process";
import { existsSync } from "node:fs";

if (!existsSync("node_modules/.bin/bun")) {
  console.error("flux-gate: first run, installing dependencies with npm ci…");
  execSync("npm ci --no-audit --no-fund", { stdio: "inherit" });
}
