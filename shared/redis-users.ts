/**
 * One Redis user per component, each with only the keys and commands it uses: the rules live in
 * deploy/redis/users.acl; this module reads them and renders them for a region (the stack's
 * aclfile, `ACL SETUSER` for a Redis the stack does not run, the URL a component connects with).
 */
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";

export const REDIS_COMPONENTS = ["edge", "core", "worker"] as const;
export type RedisComponent = (typeof REDIS_COMPONENTS)[number];

export const redisUserName = (component: RedisComponent) => `flux-gate-${component}`;

/** `edge` → `FLUX_GATE_REDIS_PASSWORD_EDGE`. */
export const redisPasswordVariable = (component: RedisComponent) => `FLUX_GATE_REDIS_PASSWORD_${component.toUpperCase()}`;

const REGION_PLACEHOLDER = "<region>";

/** A component's rules as written in users.acl: key patterns (`~…`), commands (`+…`), the rest. */
export type UserRules = Record<RedisComponent, string[]>;

/** Parses users.acl: `user <name> <rule> <rule> …` lines, `#` comments. Throws on anything else. */
export function parseUserRules(text: string): UserRules {
  const found = new Map<string, string[]>();
  for (const [index, raw] of text.split("\n").entries()) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    const [word, name, ...rules] = line.split(/\s+/);
    if (word !== "user" || !name) throw new Error(`users.acl line ${index + 1}: expected "user <name> <rules>", got "${line}"`);
    found.set(name, rules);
  }
  return Object.fromEntries(
    REDIS_COMPONENTS.map((component) => {
      const rules = found.get(redisUserName(component));
      if (!rules) throw new Error(`users.acl has no line for ${redisUserName(component)}`);
      return [component, rules];
    }),
  ) as UserRules;
}

let committed: UserRules | undefined;
/** The committed rules (deploy/redis/users.acl), read once. */
export function userRules(): UserRules {
  committed ??= parseUserRules(readFileSync(new URL("../deploy/redis/users.acl", import.meta.url), "utf8"));
  return committed;
}

/** A component's rules in `region`, the placeholder filled in. */
export function rulesIn(rules: UserRules, component: RedisComponent, region: string): string[] {
  return rules[component].map((rule) => rule.replaceAll(REGION_PLACEHOLDER, region));
}

/** Redis takes a password as its SHA-256 (`#<hex>`), so no file or command holds it in clear. */
const passwordRule = (password: string) => `#${createHash("sha256").update(password).digest("hex")}`;

/**
 * The aclfile of a region's Redis: the default user as Redis starts it (the operator's tools;
 * docs/security.md says how to close it off in production), then one user per component.
 */
export function aclFile(rules: UserRules, region: string, passwords: Record<RedisComponent, string>): string {
  const users = REDIS_COMPONENTS.map((c) => ["user", redisUserName(c), "on", passwordRule(passwords[c]), ...rulesIn(rules, c, region)].join(" "));
  return ["user default on nopass ~* &* +@all", ...users, ""].join("\n");
}

/** The same users as `ACL SETUSER` commands, for a Redis someone else runs. */
export function setUserCommands(rules: UserRules, region: string, passwords: Record<RedisComponent, string>): string[][] {
  return REDIS_COMPONENTS.map((c) => ["ACL", "SETUSER", redisUserName(c), "reset", "on", passwordRule(passwords[c]), ...rulesIn(rules, c, region)]);
}

/** `url` with the component's user and password in place of whatever it carried. */
export function urlAs(url: string, component: RedisComponent, password: string): string {
  const parsed = new URL(url);
  parsed.username = redisUserName(component);
  parsed.password = encodeURIComponent(password);
  return parsed.toString();
}
