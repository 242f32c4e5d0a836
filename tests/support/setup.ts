/**
 * Preloaded once per `bun test` run (bunfig.toml): brings the local stack up, reusing whatever
 * already runs, and at the end stops only what this run started. Keep a stack warm between runs
 * with `npx flux-gate stack up`. FLUX_GATE_TEST_SERVICES=none (npm run test:unit) starts nothing.
 */
import { afterAll } from "bun:test";
import { loadConfig } from "../../shared/config.ts";
import { stackDown, stackUp } from "../../stack/stack.ts";

// The tests run on the local stack's development defaults; a test that wants production says so.
process.env.FLUX_GATE_ENV ??= "development";

// `npm run test:unit` runs the pure tests (tests/unit/) with no service at all.
if (process.env.FLUX_GATE_TEST_SERVICES !== "none") {
  const config = loadConfig();
  const t0 = performance.now();
  const { started } = await stackUp(config, (service, message) => console.error(`  stack: ${service} ${message}`));
  if (started.length > 0) {
    console.error(`  stack: up in ${((performance.now() - t0) / 1000).toFixed(1)} s (started ${started.join(", ")})`);
  }
  // Three Kafka nodes (the scaled topology) take longer than a test's 5 s to shut down.
  afterAll(async () => {
    await stackDown(config, started);
  }, 120_000);
}
