/** The edge's settings: identity, rate limits, deadlines and which regions serve which country. */
import { DEFAULTS, localUrl } from "./defaults.ts";
import { ConfigError, type Env, list, port, positiveInt, testHalt, wholeNumber } from "./env.ts";
import { MIN_SECRET_BYTES } from "./secrets.ts";
import type { Config, RateLimitSetting } from "./types.ts";

export function edgeSettings(
  env: Env,
  mode: Config["mode"],
  regionIds: string[],
  orderIdSecret: string | undefined,
): Config["edge"] {
  const trustUserHeader = env.FLUX_GATE_DEV_IDENTITY === "1";
  if (trustUserHeader && mode === "production") {
    throw new ConfigError("FLUX_GATE_DEV_IDENTITY trusts X-User-Id and is refused in production");
  }
  if (mode === "production") {
    // A short HMAC key can be searched for; an identity provider's keys sign for many services.
    if (
      env.FLUX_GATE_JWT_SECRET !== undefined &&
      new TextEncoder().encode(env.FLUX_GATE_JWT_SECRET).length < MIN_SECRET_BYTES
    ) {
      throw new ConfigError(`FLUX_GATE_JWT_SECRET must be at least ${MIN_SECRET_BYTES} bytes in production`);
    }
    const unset = ["FLUX_GATE_JWT_AUDIENCE", "FLUX_GATE_JWT_ISSUER"].filter((name) => !env[name]);
    if (env.FLUX_GATE_JWKS_URL && unset.length > 0) {
      throw new ConfigError(
        `${unset.join(" and ")} must be set in production with FLUX_GATE_JWKS_URL: its keys also sign tokens meant for other services`,
      );
    }
  }
  const edgePort = port(env, "FLUX_GATE_EDGE_PORT", DEFAULTS.edge.port);
  const metricsPort = port(env, "FLUX_GATE_EDGE_METRICS_PORT", DEFAULTS.edge.metricsPort);
  const { rateLimit } = DEFAULTS.edge;
  return {
    port: edgePort,
    url: env.FLUX_GATE_EDGE_URL ?? localUrl(edgePort),
    metricsPort,
    metricsUrl: env.FLUX_GATE_EDGE_METRICS_URL ?? localUrl(metricsPort),
    trustUserHeader,
    jwtSecret: env.FLUX_GATE_JWT_SECRET,
    jwksUrl: env.FLUX_GATE_JWKS_URL,
    jwtAudience: env.FLUX_GATE_JWT_AUDIENCE || undefined,
    jwtIssuer: env.FLUX_GATE_JWT_ISSUER || undefined,
    jwtHomeRegionClaim: env.FLUX_GATE_JWT_HOME_REGION_CLAIM || DEFAULTS.edge.jwtHomeRegionClaim,
    jwtHomeRegionRequired: env.FLUX_GATE_JWT_HOME_REGION_REQUIRED === "1",
    trustedProxies: wholeNumber(env, "FLUX_GATE_TRUSTED_PROXIES", DEFAULTS.edge.trustedProxies),
    orderIdSecret: orderIdSecret ?? "development-only-order-id-secret",
    rateLimit: {
      user: parseRateLimit("FLUX_GATE_RATE_LIMIT_USER", env.FLUX_GATE_RATE_LIMIT_USER ?? rateLimit.user),
      ip: parseRateLimit("FLUX_GATE_RATE_LIMIT_IP", env.FLUX_GATE_RATE_LIMIT_IP ?? rateLimit.ip),
      ticket: parseRateLimit("FLUX_GATE_RATE_LIMIT_TICKET", env.FLUX_GATE_RATE_LIMIT_TICKET ?? rateLimit.ticket),
    },
    coreTimeoutMs: positiveInt(env, "FLUX_GATE_CORE_TIMEOUT_MS", DEFAULTS.edge.coreTimeoutMs),
    redisTimeoutMs: positiveInt(env, "FLUX_GATE_EDGE_REDIS_TIMEOUT_MS", DEFAULTS.edge.redisTimeoutMs),
    roomWindowSeconds: positiveInt(env, "FLUX_GATE_ROOM_WINDOW_SECONDS", DEFAULTS.edge.roomWindowSeconds),
    testHalt: testHalt(env, "FLUX_GATE_TEST_EDGE_HALT", ["core-answered"] as const),
    countryRegions: parseCountryRegions(env.FLUX_GATE_COUNTRY_REGIONS ?? defaultCountryRegions(regionIds), regionIds),
  };
}

/** `20/10s` → 20 requests per 10 seconds. */
export function parseRateLimit(name: string, value: string): RateLimitSetting {
  const match = /^(\d+)\/(\d+)s$/.exec(value.trim());
  if (!match || Number(match[1]) <= 0 || Number(match[2]) <= 0) {
    throw new ConfigError(`${name} must look like "20/10s" (requests per seconds), not "${value}"`);
  }
  return { requests: Number(match[1]), windowSeconds: Number(match[2]) };
}

/** `US:us-east,eu-west;DE:eu-west,us-east` → { US: [...], DE: [...] }, checked against the regions. */
export function parseCountryRegions(value: string, regionIds: string[]): Record<string, string[]> {
  const table: Record<string, string[]> = {};
  for (const entry of value
    .split(";")
    .map((e) => e.trim())
    .filter(Boolean)) {
    const [country, regions] = entry.split(":");
    const order = list(regions) ?? [];
    const unknown = order.filter((r) => !regionIds.includes(r));
    if (!country || !/^([A-Z]{2}|\*)$/.test(country.trim()) || order.length === 0 || unknown.length > 0) {
      throw new ConfigError(
        `FLUX_GATE_COUNTRY_REGIONS: "${entry}" is not COUNTRY:region,region with known regions (${regionIds.join(", ")})`,
      );
    }
    table[country.trim()] = order;
  }
  return table;
}

/** Americas to us-east, Europe to eu-west, where those regions exist; everyone else in config order. */
function defaultCountryRegions(regionIds: string[]): string {
  const prefer = (first: string) => [first, ...regionIds.filter((r) => r !== first)].join(",");
  const entries: string[] = [];
  if (regionIds.includes("us-east"))
    for (const c of ["US", "CA", "MX", "BR", "AR"]) entries.push(`${c}:${prefer("us-east")}`);
  if (regionIds.includes("eu-west"))
    for (const c of ["GB", "IE", "FR", "DE", "ES", "PT", "NL", "BE", "IT"]) entries.push(`${c}:${prefer("eu-west")}`);
  entries.push(`*:${regionIds.join(",")}`);
  return entries.join(";");
}
