/**
 * The deployment's configuration, as every component imports it. Its pieces live in config/, one
 * job each; this path stays the one to import, so that a change there touches no importer.
 */
export { DEVELOPMENT_ADMIN_TOKEN, parseAdminTokens } from "./config/admin.ts";
export { ConfigError, redisUrlVariable, regionVariable } from "./config/env.ts";
export { DATABASE_NAME, IDEMPOTENCY_WINDOW_MS } from "./config/fixed.ts";
export { loadConfig } from "./config/load.ts";
export { redactUrl } from "./config/redact-url.ts";
export { regionById } from "./config/regions.ts";
export { redisUserSecrets, requireSecrets } from "./config/secrets.ts";
export {
  type AdminScope,
  type AdminToken,
  type Config,
  type Instance,
  type RateLimitSetting,
  type Region,
  TOPOLOGIES,
} from "./config/types.ts";
