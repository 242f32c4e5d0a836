/** The admin API's settings: above all its bearer tokens and their scopes. */
import { DEFAULTS, localUrl } from "./defaults.ts";
import { ConfigError, type Env, port, positiveInt } from "./env.ts";
import type { AdminScope, AdminToken, Config } from "./types.ts";

export const DEVELOPMENT_ADMIN_TOKEN = "development-only-admin-token";

/**
 * FLUX_GATE_ADMIN_TOKENS is a JSON list of {name, scopes, token}. Without it, development runs
 * get one global token and one per region, with well-known values that production refuses.
 */
export function adminSettings(env: Env, regionIds: string[], defaultedSecrets: Set<string>): Config["admin"] {
  const adminPort = port(env, "FLUX_GATE_ADMIN_PORT", DEFAULTS.admin.port);
  let tokens: AdminToken[];
  if (env.FLUX_GATE_ADMIN_TOKENS === undefined) {
    defaultedSecrets.add("FLUX_GATE_ADMIN_TOKENS");
    tokens = [
      { name: "dev-global", scopes: ["global"], token: DEVELOPMENT_ADMIN_TOKEN },
      ...regionIds.map((id) => ({
        name: `dev-${id}`,
        scopes: [`region:${id}` as const],
        token: `${DEVELOPMENT_ADMIN_TOKEN}-${id}`,
      })),
    ];
  } else {
    tokens = parseAdminTokens(env.FLUX_GATE_ADMIN_TOKENS, regionIds);
  }
  return {
    port: adminPort,
    url: env.FLUX_GATE_ADMIN_URL ?? localUrl(adminPort),
    tokens,
    resumeIntervalMs: positiveInt(env, "FLUX_GATE_TRANSFER_RESUME_MS", DEFAULTS.admin.resumeIntervalMs),
    testHaltAfter: env.FLUX_GATE_TEST_HALT_AFTER,
  };
}

export function parseAdminTokens(value: string, regionIds: string[]): AdminToken[] {
  const fail = (why: string): never => {
    throw new ConfigError(`FLUX_GATE_ADMIN_TOKENS: ${why} (expected [{"name":"ops","scopes":["global"],"token":"…"}])`);
  };
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    return fail("not JSON");
  }
  if (!Array.isArray(parsed) || parsed.length === 0) return fail("not a non-empty list");
  const tokens = parsed.map((entry: unknown, i): AdminToken => {
    const { name, scopes, token } = (entry ?? {}) as Record<string, unknown>;
    if (typeof name !== "string" || name === "") fail(`entry ${i} has no name`);
    if (typeof token !== "string" || token.length < 16) fail(`${name}'s token is shorter than 16 characters`);
    if (!Array.isArray(scopes) || scopes.length === 0) fail(`${name} has no scopes`);
    for (const scope of scopes as unknown[]) {
      const known =
        scope === "global" ||
        (typeof scope === "string" && scope.startsWith("region:") && regionIds.includes(scope.slice(7)));
      if (!known)
        fail(
          `${name} has scope ${JSON.stringify(scope)}; scopes are "global" or "region:<id>" with id one of ${regionIds.join(", ")}`,
        );
    }
    return { name: name as string, scopes: scopes as AdminScope[], token: token as string };
  });
  const twice = (values: string[]) => values.find((v, i) => values.indexOf(v) !== i);
  if (twice(tokens.map((t) => t.name)))
    fail(`the name ${twice(tokens.map((t) => t.name))} is given twice: the audit log could not tell them apart`);
  if (twice(tokens.map((t) => t.token))) fail("two entries have the same token");
  if (tokens.some((t) => t.token.startsWith(DEVELOPMENT_ADMIN_TOKEN)))
    fail("a development token is not a secret; generate one");
  return tokens;
}
