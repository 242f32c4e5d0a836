/**
 * Secrets: which ones the environment left to a development default or gave too short, and the
 * check each component makes before it serves, so that production never runs on either.
 */
import { type RedisComponent, redisPasswordVariable } from "../redis-users.ts";
import { ConfigError, type Env } from "./env.ts";
import type { Config } from "./types.ts";

/** The shortest secret production accepts. */
export const MIN_SECRET_BYTES = 32;

/**
 * Reads secrets from `env`, noting each one that is missing (the caller's development default
 * stands in) or short, for `requireSecrets` to refuse later: only the component that uses a
 * secret knows it needs it.
 */
export function secretReader(env: Env) {
  const defaulted = new Set<string>();
  const short = new Set<string>();
  const secret = (name: string): string | undefined => {
    const value = env[name] || undefined;
    if (value === undefined) defaulted.add(name);
    else if (new TextEncoder().encode(value).length < MIN_SECRET_BYTES) short.add(name);
    return value;
  };
  return { secret, defaulted, short };
}

/**
 * In production, refuses to run on a development default for any of `names`: each component
 * names the secrets it uses (a core needs its CORE_SECRET, not the edge's order-id key).
 */
export function requireSecrets(config: Config, names: string[]): void {
  if (config.mode !== "production") return;
  names = [...new Set(names)];
  const missing = names.filter((name) => config.defaultedSecrets.has(name));
  const short = names.filter((name) => config.shortSecrets.has(name));
  const problems = [
    ...(missing.length > 0 ? [`${missing.join(", ")} must be set in production`] : []),
    ...(short.length > 0 ? [`${short.join(", ")} must be at least ${MIN_SECRET_BYTES} bytes`] : []),
  ];
  if (problems.length > 0)
    throw new ConfigError(`${problems.join("; ")} (FLUX_GATE_ENV=development runs on local defaults)`);
}

/** The password of a component's own Redis user, when components connect as their own users. */
export function redisUserSecrets(config: Config, component: RedisComponent): string[] {
  return config.redis.users ? [redisPasswordVariable(component)] : [];
}
