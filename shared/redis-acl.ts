/**
 * The Redis users' rules (deploy/redis/users.acl) read and rendered for a region: the stack's
 * aclfile, `ACL SETUSER` for a Redis the stack does not run, the REST adapter's allow-list. Bun only
 * (it reads a file); the pure parts are in redis-users.ts.
 */
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import {
  parseUserRules,
  REDIS_COMPONENTS,
  redisUserName,
  rulesIn,
  type RedisComponent,
  type UserRules,
} from "./redis-users.ts";

let committed: UserRules | undefined;
/** The committed rules (deploy/redis/users.acl), read once. */
export function userRules(): UserRules {
  committed ??= parseUserRules(readFileSync(new URL("../deploy/redis/users.acl", import.meta.url), "utf8"));
  return committed;
}

/** Redis takes a password as its SHA-256 (`#<hex>`), so no file or command holds it in clear. */
const passwordRule = (password: string) => `#${createHash("sha256").update(password).digest("hex")}`;

/**
 * The aclfile of a region's Redis: the default user as Redis starts it (the operator's tools;
 * docs/security.md says how to close it off in production), then one user per component.
 */
export function aclFile(rules: UserRules, region: string, passwords: Record<RedisComponent, string>): string {
  const users = REDIS_COMPONENTS.map((c) =>
    ["user", redisUserName(c), "on", passwordRule(passwords[c]), ...rulesIn(rules, c, region)].join(" "),
  );
  return ["user default on nopass ~* &* +@all", ...users, ""].join("\n");
}

/** The same users as `ACL SETUSER` commands, for a Redis someone else runs. */
export function setUserCommands(
  rules: UserRules,
  region: string,
  passwords: Record<RedisComponent, string>,
): string[][] {
  return REDIS_COMPONENTS.map((c) => [
    "ACL",
    "SETUSER",
    redisUserName(c),
    "reset",
    "on",
    passwordRule(passwords[c]),
    ...rulesIn(rules, c, region),
  ]);
}
