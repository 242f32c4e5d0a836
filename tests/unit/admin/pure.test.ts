/** The admin's pure pieces: tokens and scopes, the CLI's arguments, rebalancing's split. */
import { describe, expect, test } from "bun:test";
import { reaches, tokenChecker } from "../../../admin/access/tokens.ts";
import { allocationTargets, instant } from "../../../cli/admin-commands.ts";
import { UsageError } from "../../../shared/command-line.ts";
import { shareOfPool } from "../../../admin/inventory/rebalance.ts";
import {
  ConfigError,
  DEVELOPMENT_ADMIN_TOKEN,
  loadConfig,
  parseAdminTokens,
  requireSecrets,
} from "../../../shared/config.ts";

const REGIONS = ["us-east", "eu-west"];

describe("admin tokens", () => {
  const check = tokenChecker([
    { name: "ops", scopes: ["global"], token: "global-token-0123456789" },
    { name: "eu-ops", scopes: ["region:eu-west"], token: "eu-west-token-0123456789" },
  ]);

  test("a configured bearer token names its holder and scopes; anything else names no one", () => {
    expect(check("Bearer global-token-0123456789")).toEqual({ name: "ops", scopes: ["global"] });
    expect(check("Bearer eu-west-token-0123456789")).toEqual({ name: "eu-ops", scopes: ["region:eu-west"] });
    // The scheme is case-insensitive; the token is not.
    expect(check("bearer global-token-0123456789")).toEqual({ name: "ops", scopes: ["global"] });
    for (const wrong of [
      undefined,
      "",
      "Bearer",
      "Bearer global-token-012345678",
      "Bearer GLOBAL-TOKEN-0123456789",
      "Bearer global-token-0123456789x",
      "Basic global-token-0123456789",
      "global-token-0123456789",
    ]) {
      expect(check(wrong)).toBeUndefined();
    }
  });

  test("global reaches every region; a region scope only its own", () => {
    const ops = { name: "ops", scopes: ["global" as const] };
    const eu = { name: "eu", scopes: ["region:eu-west" as const] };
    expect([reaches(ops, "global"), reaches(ops, "us-east")]).toEqual([true, true]);
    expect([reaches(eu, "global"), reaches(eu, "us-east"), reaches(eu, "eu-west")]).toEqual([false, false, true]);
  });

  test("FLUX_GATE_ADMIN_TOKENS is checked entry by entry, with a message that says what is wrong", () => {
    expect(
      parseAdminTokens('[{"name":"ops","scopes":["global","region:us-east"],"token":"0123456789abcdef"}]', REGIONS),
    ).toEqual([{ name: "ops", scopes: ["global", "region:us-east"], token: "0123456789abcdef" }]);
    const refused: [string, string][] = [
      ["not json", "not JSON"],
      ["[]", "not a non-empty list"],
      ['[{"scopes":["global"],"token":"0123456789abcdef"}]', "entry 0 has no name"],
      ['[{"name":"ops","scopes":["global"],"token":"short"}]', "ops's token is shorter than 16 characters"],
      ['[{"name":"ops","scopes":[],"token":"0123456789abcdef"}]', "ops has no scopes"],
      ['[{"name":"ops","scopes":["region:mars"],"token":"0123456789abcdef"}]', 'ops has scope "region:mars"'],
      [
        '[{"name":"ops","scopes":["global"],"token":"0123456789abcdef"},{"name":"ops","scopes":["global"],"token":"fedcba9876543210"}]',
        "the name ops is given twice",
      ],
      [
        '[{"name":"a","scopes":["global"],"token":"0123456789abcdef"},{"name":"b","scopes":["global"],"token":"0123456789abcdef"}]',
        "two entries have the same token",
      ],
      [
        `[{"name":"ops","scopes":["global"],"token":"${DEVELOPMENT_ADMIN_TOKEN}"}]`,
        "a development token is not a secret",
      ],
    ];
    for (const [value, message] of refused) expect(() => parseAdminTokens(value, REGIONS)).toThrow(message);
  });

  test("development gets a global token and one per region; production refuses to run on them", () => {
    const config = loadConfig({});
    expect(config.admin.tokens.map((t) => [t.name, t.scopes, t.token])).toEqual([
      ["dev-global", ["global"], DEVELOPMENT_ADMIN_TOKEN],
      ["dev-us-east", ["region:us-east"], `${DEVELOPMENT_ADMIN_TOKEN}-us-east`],
      ["dev-eu-west", ["region:eu-west"], `${DEVELOPMENT_ADMIN_TOKEN}-eu-west`],
    ]);
    expect(() => requireSecrets(loadConfig({ FLUX_GATE_ENV: "production" }), ["FLUX_GATE_ADMIN_TOKENS"])).toThrow(
      ConfigError,
    );
  });
});

describe("admin CLI arguments", () => {
  test("times: now, +N units, or ISO", () => {
    const now = Date.parse("2026-11-27T09:00:00Z");
    expect(instant("starts", "now", now)).toBe("2026-11-27T09:00:00.000Z");
    expect(instant("ends", "+90m", now)).toBe("2026-11-27T10:30:00.000Z");
    expect(instant("ends", "+2d", now)).toBe("2026-11-29T09:00:00.000Z");
    expect(instant("ends", "2026-12-01T00:00:00+01:00", now)).toBe("2026-11-30T23:00:00.000Z");
    expect(() => instant("ends", "tomorrow", now)).toThrow(UsageError);
  });

  test("allocations: REGION=UNITS, comma-separated or one per argument", () => {
    expect(allocationTargets(["us-east=600,eu-west=400"])).toEqual({ "us-east": 600, "eu-west": 400 });
    expect(allocationTargets(["us-east=0", "eu-west=1"])).toEqual({ "us-east": 0, "eu-west": 1 });
    expect(() => allocationTargets(["us-east:600"])).toThrow('"us-east:600" is not REGION=UNITS');
    expect(() => allocationTargets([])).toThrow(UsageError);
  });
});

describe("rebalancing's share of the pool", () => {
  test("in proportion to recent sales, in whole units that add up to the pool", () => {
    expect(
      shareOfPool(100, [
        { region: "us-east", recentUnits: 30 },
        { region: "eu-west", recentUnits: 10 },
      ]),
    ).toEqual({ "us-east": 75, "eu-west": 25 });
    expect(
      shareOfPool(10, [
        { region: "a", recentUnits: 1 },
        { region: "b", recentUnits: 1 },
        { region: "c", recentUnits: 1 },
      ]),
    ).toEqual({ a: 4, b: 3, c: 3 });
    expect(
      shareOfPool(7, [
        { region: "slow", recentUnits: 1 },
        { region: "fast", recentUnits: 2 },
      ]),
    ).toEqual({ slow: 2, fast: 5 });
  });

  test("nothing to go by, or nothing to give: no shares", () => {
    expect(shareOfPool(100, [{ region: "us-east", recentUnits: 0 }])).toEqual({});
    expect(shareOfPool(0, [{ region: "us-east", recentUnits: 5 }])).toEqual({});
    expect(
      shareOfPool(1, [
        { region: "a", recentUnits: 1 },
        { region: "b", recentUnits: 3 },
      ]),
    ).toEqual({ b: 1 });
  });
});
