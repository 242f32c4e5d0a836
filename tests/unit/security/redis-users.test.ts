/** The Redis users' rules, read and rendered (deploy/redis/users.acl), and the REST adapter's allow-list: pure. */
import { describe, expect, test } from "bun:test";
import { allowList, commandKeys } from "../../../redis-rest/allow-list.ts";
import { aclFile, setUserCommands, userRules } from "../../../shared/redis-acl.ts";
import { parseUserRules, urlAs } from "../../../shared/redis-users.ts";

describe("the rules, read and rendered", () => {
  test("users.acl names every component; anything else in it is an error", () => {
    expect(Object.keys(userRules())).toEqual(["edge", "core", "worker"]);
    expect(() => parseUserRules("user flux-gate-edge ~a +ping\nuser flux-gate-core ~b +ping")).toThrow(
      "no line for flux-gate-worker",
    );
    expect(() => parseUserRules("setuser flux-gate-edge +ping")).toThrow(
      'users.acl line 1: expected "user <name> <rules>"',
    );
  });

  test("the aclfile and ACL SETUSER carry the password as its SHA-256, never in clear, and the region in the core's keys", () => {
    const passwords = { edge: "edge-password", core: "core-password", worker: "worker-password" };
    const file = aclFile(userRules(), "ap-south", passwords);
    expect(file).not.toContain("core-password");
    expect(file).toContain(
      `user flux-gate-core on #${new Bun.CryptoHasher("sha256").update("core-password").digest("hex")} ~fg:{ap-south:* ~fg:{ap-south}:* -@all`,
    );
    expect(file.split("\n")[0]).toBe("user default on nopass ~* &* +@all");
    expect(setUserCommands(userRules(), "ap-south", passwords)[2]!.slice(0, 5)).toEqual([
      "ACL",
      "SETUSER",
      "flux-gate-worker",
      "reset",
      "on",
    ]);
  });

  test("a component's URL carries its user and its password, encoded", () => {
    expect(urlAs("redis://:operator@cache.internal:6379/0", "core", "p@ss/word")).toBe(
      "redis://flux-gate-core:p%40ss%2Fword@cache.internal:6379/0",
    );
  });

  test("the REST adapter's allow-list: keys found by each command's shape; unknown shapes and categories are refused when read", () => {
    expect(commandKeys(["EVALSHA", "abc", 2, "k1", "k2", "arg"])).toEqual(["k1", "k2"]);
    expect(commandKeys(["DEL", "a", "b"])).toEqual(["a", "b"]);
    expect(commandKeys(["HGET", "h", "f"])).toEqual(["h"]);
    expect(commandKeys(["EVAL", "return 1", "x"])).toBeUndefined();
    expect(commandKeys(["SORT", "k"])).toBeUndefined();
    const allow = allowList(["~app:*", "-@all", "+get", "+eval"]);
    expect(allow(["GET", "app:1"])).toBeUndefined();
    expect(allow(["GET", "other"])).toBe("NOPERM this token may not touch the key 'other'");
    expect(allow(["EVAL", "return 1", "1", "app:1", "other"])).toBeUndefined();
    expect(allow(["EVAL", "return 1", "2", "app:1", "other"])).toBe("NOPERM this token may not touch the key 'other'");
    expect(allow(["EVAL", "return 1", "many"])).toBe("ERR wrong number of arguments for 'eval'");
    expect(() => allowList(["~*", "+@read"])).toThrow("rules the REST adapter cannot check: +@read");
    expect(() => allowList(["~*", "+sort"])).toThrow("does not know where the keys of SORT are");
  });
});
