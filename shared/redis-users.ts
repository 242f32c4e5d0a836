/**
 * One Redis user per component, each with only the keys and commands it uses (the rules are in
 * deploy/redis/users.acl, read by shared/redis-acl.ts): names, passwords' variables, the URL a
 * component connects with, the rules parsed. Pure and runtime-neutral: the Workers edge's
 * configuration imports it.
 */

export const REDIS_COMPONENTS = ["edge", "core", "worker"] as const;
export type RedisComponent = (typeof REDIS_COMPONENTS)[number];

export const redisUserName = (component: RedisComponent) => `flux-gate-${component}`;

/** `edge` → `FLUX_GATE_REDIS_PASSWORD_EDGE`. */
export const redisPasswordVariable = (component: RedisComponent) =>
  `FLUX_GATE_REDIS_PASSWORD_${component.toUpperCase()}`;

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
    if (word !== "user" || !name)
      throw new Error(`users.acl line ${index + 1}: expected "user <name> <rules>", got "${line}"`);
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

/** A component's rules in `region`, the placeholder filled in. */
export function rulesIn(rules: UserRules, component: RedisComponent, region: string): string[] {
  return rules[component].map((rule) => rule.replaceAll(REGION_PLACEHOLDER, region));
}

/** `url` with the component's user and password in place of whatever it carried. */
export function urlAs(url: string, component: RedisComponent, password: string): string {
  const parsed = new URL(url);
  parsed.username = redisUserName(component);
  parsed.password = encodeURIComponent(password);
  return parsed.toString();
}
