/** The admission step's pure parts: the script's replies, retry order, key names (homes: tests/unit/shared/home-region.test.ts). */
import { describe, expect, test } from "bun:test";
import { parseAdmission } from "../../../edge/admission/admission.ts";
import { resumeOrder } from "../../../edge/regions.ts";
import { buyerKeys } from "../../../shared/keys.ts";

describe("admission", () => {
  test("the script's replies become values", () => {
    expect(parseAdmission(["new", 1_700_000_000_000])).toEqual({ kind: "new", now: 1_700_000_000_000 });
    expect(parseAdmission(["replay", "202", "application/json", '{"a":1}'])).toEqual({
      kind: "replay",
      status: 202,
      contentType: "application/json",
      body: '{"a":1}',
    });
    expect(parseAdmission(["in_flight", 1200])).toEqual({ kind: "in_flight", retryAfterMs: 1200 });
    expect(parseAdmission(["resume", "us-east,eu-west", 1_000, 41_000])).toEqual({
      kind: "resume",
      tried: ["us-east", "eu-west"],
      sent: 1_000,
      now: 41_000,
    });
    expect(parseAdmission(["limit", 3])).toEqual({ kind: "limit", counted: 3 });
    expect(() => parseAdmission(["bogus"])).toThrow("the admission script answered");
  });

  test("a retry asks the last region tried first, then the untried ones, never the ones that refused", () => {
    expect(resumeOrder(["us-east"], ["eu-west", "us-east", "ap-south"])).toEqual(["us-east", "eu-west", "ap-south"]);
    expect(resumeOrder(["us-east", "eu-west"], ["us-east", "eu-west", "ap-south"])).toEqual(["eu-west", "ap-south"]);
    expect(resumeOrder(["gone"], ["us-east"])).toEqual(["us-east"]);
  });

  test("no user id and key can reach another buyer's record", () => {
    expect(buyerKeys("alice").idempotency("x:1")).not.toBe(buyerKeys("alice:x").idempotency("1"));
    expect(buyerKeys("a").idempotency("b:c")).not.toBe(buyerKeys("a:b").idempotency("c"));
    // One hash tag per buyer: every key of one buyer lives in one Redis Cluster slot.
    const tag = (key: string) => /\{[^}]*\}/.exec(key)![0];
    const keys = buyerKeys("ann");
    expect(new Set([tag(keys.idempotency("k}{x")), tag(keys.allowance("p-1")), tag(keys.orders)]).size).toBe(1);
  });
});
