/**
 * The edge contract over HTTP in each runtime the edge ships for: Bun, Deno and workerd
 * (tests/support/runtimes.ts). Each places orders all the way through to PostgreSQL.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { config } from "../support/helpers.ts";
import { withCoresAndWorkers } from "../support/harness.ts";
import { edgeContract } from "./contract.ts";
import { edgeEnv, overHttp, startRedisRestAdapters } from "../support/edge.ts";
import { edgeRuntimes } from "../support/runtimes.ts";

const restAdapters = startRedisRestAdapters();
const env = edgeEnv(restAdapters.env);
// The Worker's bindings: what differs from the defaults in the test environment.
const edges = edgeRuntimes(env, [18470, 18471, 18472], "", {
  FLUX_GATE_DEV_IDENTITY: "1",
  FLUX_GATE_RATE_LIMIT_USER: env.FLUX_GATE_RATE_LIMIT_USER,
  FLUX_GATE_RATE_LIMIT_IP: env.FLUX_GATE_RATE_LIMIT_IP,
  ...restAdapters.env,
});

describe("edge runtimes", () => {
  withCoresAndWorkers(config.regions.map((r) => r.id));
  beforeAll(() => edges.start(), 120_000);

  afterAll(async () => {
    await edges.stop();
    restAdapters.stop();
  }, 30_000);

  test("the Bun edge serves /metrics on its private listener only, never on the buyers' port", async () => {
    const bun = edges.runtimes[0]!;
    const publicPort = await fetch(`http://127.0.0.1:${bun.port}/metrics`);
    expect(publicPort.status).toBe(404);
    expect(publicPort.headers.get("content-type")).toStartWith("application/problem+json");
    const privatePort = await fetch(`http://127.0.0.1:${bun.port + 100}/metrics`);
    expect(privatePort.status).toBe(200);
    expect(await privatePort.text()).toContain("flux_gate_http_request_duration_seconds");
  });

  for (const runtime of edges.runtimes) {
    describe(runtime.name, () =>
      edgeContract(overHttp(`http://127.0.0.1:${runtime.port}`), { cfCountry: runtime.cfCountry }),
    );
  }
});
