// Reading settings out of the environment: each reader names the variable in its error, so a
// bad value stops a command with one line an operator can act on.

/** The process environment, or a test's stand-in for it. */
export type Env = Record<string, string | undefined>;

export class ConfigError extends Error {
  override name = "ConfigError";
}

/** `("REDIS_URL", "us-east")` → `REDIS_URL_US_EAST`. */
export function regionVariable(prefix: string, regionId: string): string {
  return `${prefix}_${regionId.toUpperCase().replaceAll("-", "_")}`;
}

export const redisUrlVariable = (regionId: string) => regionVariable("REDIS_URL", regionId);

export function list(value: string | undefined): string[] | undefined {
  const items = value
    ?.split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  return items && items.length > 0 ? items : undefined;
}

export function onOff(env: Env, name: string, fallback: boolean): boolean {
  const value = env[name];
  if (value === undefined) return fallback;
  if (value === "on" || value === "off") return value === "on";
  throw new ConfigError(`${name} must be "on" or "off", not "${value}"`);
}

export function positiveInt(env: Env, name: string, fallback: number): number {
  return wholeNumber(env, name, fallback, 1);
}

export function wholeNumber(env: Env, name: string, fallback: number, min = 0): number {
  const raw = env[name];
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min) {
    throw new ConfigError(`${name} must be a ${min > 0 ? "positive " : ""}whole number, not "${raw}"`);
  }
  return value;
}

export function port(env: Env, name: string, fallback: number): number {
  const value = positiveInt(env, name, fallback);
  if (value > 65535) throw new ConfigError(`${name} must be a TCP port (1-65535), not "${value}"`);
  return value;
}

/** A crash test's stopping point for one component: unset, or one of `steps`. */
export function testHalt<const S extends string>(env: Env, name: string, steps: readonly S[]): S | undefined {
  const value = env[name];
  if (value === undefined || (steps as readonly string[]).includes(value)) return value as S | undefined;
  throw new ConfigError(`${name} must be one of ${steps.join(", ")}, not "${value}"`);
}
