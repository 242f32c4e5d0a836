/**
 * Production refuses to run on development secrets: real processes, started as an operator
 * would start them, exit at once naming each secret they lack, and never listen.
 */
import { describe, expect, test } from "bun:test";
import { join } from "node:path";

const ROOT = join(import.meta.dir, "../..");
const SECRETS =
  /^(CORE_SECRET_|CORE_ADMIN_SECRET_|REDIS_REST_TOKEN_|FLUX_GATE_ORDER_ID_SECRET|FLUX_GATE_ADMIN_TOKENS|FLUX_GATE_DEV_IDENTITY|FLUX_GATE_REDIS_PASSWORD_|FLUX_GATE_REDIS_USERS)/;

/** `mode` undefined: FLUX_GATE_ENV not set at all, as in a unit file that never heard of it. */
function startInProduction(argv: string[], extra: Record<string, string>, mode: string | undefined = "production") {
  const env = Object.fromEntries(
    Object.entries(process.env).filter(([name]) => !SECRETS.test(name) && name !== "FLUX_GATE_ENV"),
  ) as Record<string, string>;
  const run = Bun.spawnSync([process.execPath, ...argv.map((a, i) => (i === 0 ? join(ROOT, a) : a))], {
    env: { ...env, ...(mode ? { FLUX_GATE_ENV: mode } : {}), ...extra },
    stdin: "ignore",
    timeout: 20_000,
  });
  return { code: run.exitCode, output: run.stdout.toString() + run.stderr.toString() };
}

describe("a production process without its secrets", () => {
  test("a core exits naming its two secrets and its Redis user's password", () => {
    const { code, output } = startInProduction(["core/main.ts", "--region", "us-east"], {
      FLUX_GATE_CORE_PORT: "18901",
    });
    expect(code).not.toBe(0);
    expect(output).toContain(
      "CORE_SECRET_US_EAST, CORE_ADMIN_SECRET_US_EAST, FLUX_GATE_REDIS_PASSWORD_CORE must be set in production",
    );
  });

  test("a worker exits naming its Redis user's password; with FLUX_GATE_REDIS_USERS=off it needs none", () => {
    const { code, output } = startInProduction(["worker/main.ts", "--region", "us-east"], {
      FLUX_GATE_WORKER_PORT: "18904",
    });
    expect(code).not.toBe(0);
    expect(output).toContain("FLUX_GATE_REDIS_PASSWORD_WORKER must be set in production");
    expect(
      startInProduction(["core/main.ts", "--region", "us-east"], {
        FLUX_GATE_CORE_PORT: "18905",
        FLUX_GATE_REDIS_USERS: "off",
      }).output,
    ).toContain("CORE_SECRET_US_EAST, CORE_ADMIN_SECRET_US_EAST must be set in production (");
  });

  test("a Redis REST adapter exits naming its token and the edge's Redis password", () => {
    const { code, output } = startInProduction(["redis-rest/main.ts", "--region", "eu-west"], {
      FLUX_GATE_REDIS_REST_PORT: "18906",
    });
    expect(code).not.toBe(0);
    expect(output).toContain("REDIS_REST_TOKEN_EU_WEST, FLUX_GATE_REDIS_PASSWORD_EDGE must be set in production");
  });

  test("with FLUX_GATE_ENV not set at all it is production: a core exits naming a missing and a short secret", () => {
    const { code, output } = startInProduction(
      ["core/main.ts", "--region", "us-east"],
      { FLUX_GATE_CORE_PORT: "18903", CORE_ADMIN_SECRET_US_EAST: "short" },
      undefined,
    );
    expect(code).not.toBe(0);
    expect(output).toContain(
      "CORE_SECRET_US_EAST, FLUX_GATE_REDIS_PASSWORD_CORE must be set in production; CORE_ADMIN_SECRET_US_EAST must be at least 32 bytes",
    );
  });

  test("the Bun edge exits naming its order-id key, every core secret and its Redis password, and no REST token (it speaks RESP)", () => {
    const { code, output } = startInProduction(["edge/entry/bun.ts"], {
      FLUX_GATE_EDGE_PORT: "18902",
      FLUX_GATE_JWT_SECRET: "a-jwt-secret-for-this-test-only-000",
    });
    expect(code).not.toBe(0);
    expect(output).toContain(
      "FLUX_GATE_ORDER_ID_SECRET, CORE_SECRET_US_EAST, FLUX_GATE_REDIS_PASSWORD_EDGE, CORE_SECRET_EU_WEST must be set in production",
    );
  });
});
