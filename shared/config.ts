/**
 * The one description of a Flux-Gate deployment. Every component (stack, core, worker, edge,
 * tests) reads it from here, so a region, a port or a topic name is spelled in one place.
 *
 * Everything has a local default; the environment overrides it. A service whose URL is given
 * in the environment is "external": the local stack uses it and starts nothing of that kind.
 */
import { resolve } from "node:path";
import { REDIS_COMPONENTS, redisPasswordVariable, urlAs, type RedisComponent } from "./redis-users.ts";

export interface Region {
  id: string;
  /** Redis over TCP as its operator: the stack's tools, `verify`, the tests. */
  redisUrl: string;
  /** Redis as each component reaches it: its own user (deploy/redis/users.acl), unless FLUX_GATE_REDIS_USERS=off. */
  redisUrlFor: Record<RedisComponent, string>;
  /** Set when REDIS_URL_<REGION> points at a Redis the stack does not run. */
  redisExternal: boolean;
  /** Port of the stack's own Redis for this region (unused when external). */
  redisPort: number;
  /** The region's order-event topic. */
  kafkaTopic: string;
  /** Where messages the worker cannot apply go, with the reason in their headers. */
  deadLetterTopic: string;
  /** The region's first core, as the tools reach it (the edge spreads orders over all of `cores`). */
  coreUrl: string;
  /** Port the region's first local core listens on. */
  corePort: number;
  /** Every core of the region (one by default; two in the scaled topology), sharing its Redis. */
  cores: Instance[];
  /** Shared secret that signs the edge's requests to the core (HMAC-SHA256). */
  coreSecret: string;
  /**
   * Signs the admin API's requests to the core's /admin routes, which change allocations:
   * apart from `coreSecret`, so that an edge (which holds every region's) cannot add units.
   */
  coreAdminSecret: string;
  /** The region's Redis is a Redis Cluster (`redisUrl` one of its nodes): the scaled topology. */
  redisCluster: boolean;
  /** Ports of the stack's own Redis for this region: one, or the cluster's nodes (masters first). */
  redisPorts: number[];
  /** The region's Redis over the Upstash REST protocol, for the edge. */
  redisRestUrl: string;
  redisRestToken: string;
  /** Set when REDIS_REST_URL_<REGION> points at a REST endpoint the stack does not run. */
  redisRestExternal: boolean;
  /** Port the local Redis REST adapter listens on (unused when REDIS_REST_URL_<REGION> is set). */
  redisRestPort: number;
  /** The first worker's /health, /ready and /metrics. */
  workerPort: number;
  workerUrl: string;
  /** Every worker of the region: one consumer group sharing the region's partitions. */
  workers: Instance[];
}

/** One of several processes of a kind in a region (a core, a worker): where it listens. */
export interface Instance {
  port: number;
  url: string;
}

/** `single`: one process of each kind (the default); `scaled`: docs/capacity.md's local scale-out. */
export const TOPOLOGIES = ["single", "scaled"] as const;
export type Topology = (typeof TOPOLOGIES)[number];

export type AppendFsync = "always" | "everysec";

export interface Config {
  /** "production" refuses development defaults such as the built-in secrets. */
  mode: "development" | "production";
  topology: Topology;
  /** Secrets that fell back to their development default; see `requireSecrets`. */
  defaultedSecrets: Set<string>;
  /** Secrets given shorter than MIN_SECRET_BYTES: refused in production like missing ones. */
  shortSecrets: Set<string>;
  /** Data, logs and pid files of the local stack. */
  home: string;
  /** Where every Flux-Gate server binds: loopback locally, 0.0.0.0 in a container. */
  listenHost: string;
  regions: Region[];
  redis: {
    appendFsync: AppendFsync;
    /** Each component connects as its own Redis user; off for a Redis without ACLs. */
    users: boolean;
    passwords: Record<RedisComponent, string>;
  };
  postgres: {
    url: string;
    external: boolean;
    port: number;
    /**
     * What the workers and the admin API connect to: PgBouncer (transaction pooling) in the
     * scaled topology, PostgreSQL itself otherwise.
     */
    poolUrl: string;
    /** Set when `poolUrl` is PgBouncer: no named prepared statements across transactions. */
    pooled: boolean;
    /** Port of the stack's own PgBouncer (scaled topology). */
    poolPort: number;
  };
  kafka: {
    brokers: string[];
    external: boolean;
    /** The stack's own brokers (one, or three in the scaled topology), each a broker and a controller. */
    nodes: { id: number; port: number; controllerPort: number }[];
    partitions: number;
    /** Copies of each topic's partitions, and how many must have a write before it is acknowledged. */
    replicationFactor: number;
    minInsyncReplicas: number;
    heapMb: number;
  };
  core: {
    /** Outbox entries one (region, product) may hold before the core sheds load with 503. */
    outboxLimit: number;
    /** Redis command deadline: past it a request gets 503, never a hang. */
    redisTimeoutMs: number;
    /**
     * After a reservation, wait this long for one replica to have it (`WAIT 1`) before the 202;
     * none in time: 503. 0: no wait (a Redis without replicas).
     */
    replicaWaitMs: number;
    /** How often the sweeper expires holds past their hold time. */
    sweepIntervalMs: number;
    /** How long an ended order stays in Redis once PostgreSQL holds it (then a tombstone remains). */
    retentionMs: number;
    /** Pause between two passes of the retention sweep. */
    retentionIntervalMs: number;
    /** Largest request body the core reads. */
    maxBodyBytes: number;
    /**
     * Crash tests only: an allocation change applied in Redis is never answered, or a batch of
     * reservations is never answered once its first half is reserved (the test kills the core there).
     */
    testHalt?: "allocation-applied" | "batch-half-applied";
  };
  admin: {
    port: number;
    /** Where the CLI and the dashboard reach the admin API. */
    url: string;
    tokens: AdminToken[];
    /** How often unfinished transfers are picked up again after a crash or an outage. */
    resumeIntervalMs: number;
    /** Crash tests only: the transfer driver stops dead after this step, to be killed there. */
    testHaltAfter?: string;
  };
  edge: {
    port: number;
    url: string;
    /**
     * The Bun edge's /metrics, on a listener of its own on 127.0.0.1 (FLUX_GATE_EDGE_METRICS_PORT,
     * default 8090): the buyers' port serves none. Where the dashboard reads them.
     */
    metricsPort: number;
    metricsUrl: string;
    /** Trust `X-User-Id` instead of a JWT: local runs only, refused in production. */
    trustUserHeader: boolean;
    /** HS256 secret for client JWTs, or a JWKS URL for asymmetric ones. */
    jwtSecret?: string;
    jwksUrl?: string;
    /** The `aud` and `iss` a client JWT must carry, when set. */
    jwtAudience?: string;
    jwtIssuer?: string;
    /**
     * The client JWT claim naming the buyer's home region (the account's region, set by the
     * identity provider): where the buyer's idempotency records, rate limits and allowances live.
     * Without it, a hash of the user id picks the home (shared/home-region.ts).
     */
    jwtHomeRegionClaim: string;
    /**
     * Refuse a client JWT without the home claim (FLUX_GATE_JWT_HOME_REGION_REQUIRED=1). Turn it
     * on once the identity provider puts the claim in every token: while tokens with and without
     * it are both valid, a buyer holding one of each has two homes, two allowances and two
     * records per Idempotency-Key (docs/production.md).
     */
    jwtHomeRegionRequired: boolean;
    /** Proxies in front of the edge whose X-Forwarded-For entries are believed (0: the socket's peer is the client). */
    trustedProxies: number;
    /** Key for deriving order ids from (client, Idempotency-Key). */
    orderIdSecret: string;
    /**
     * `ticket`: looks at a waiting-room ticket and its orders, per ticket (FLUX_GATE_RATE_LIMIT_TICKET,
     * default 50/10s: the room's page looks twice a second).
     */
    rateLimit: { user: RateLimitSetting; ip: RateLimitSetting; ticket: RateLimitSetting };
    coreTimeoutMs: number;
    /** Deadline for one call to a buyer's home-region Redis: past it the buyer gets a fast 503. */
    redisTimeoutMs: number;
    /** How long a buyer the waiting room admitted may take to order (edge/room/). */
    roomWindowSeconds: number;
    /** Crash tests only: after a core answers, the order never completes (the test kills the edge there). */
    testHalt?: "core-answered";
    /** Country code → regions in order of preference; `*` for every other country. */
    countryRegions: Record<string, string[]>;
  };
}

/** A bearer token of the admin API and what it may touch. */
export interface AdminToken {
  /** Who holds it, as the audit log names them. */
  name: string;
  scopes: AdminScope[];
  token: string;
}

/** `global` reaches every product and region; `region:<id>` one region's allocation. */
export type AdminScope = "global" | `region:${string}`;

export interface RateLimitSetting {
  requests: number;
  windowSeconds: number;
}

export class ConfigError extends Error {
  override name = "ConfigError";
}

type Env = Record<string, string | undefined>;

const REGION_ID = /^[a-z][a-z0-9-]{0,30}$/;
export const DEFAULT_REGIONS = ["us-east", "eu-west"];
export const DATABASE_NAME = "fluxgate";
/** The shortest secret production accepts. */
export const MIN_SECRET_BYTES = 32;
/**
 * How long a request's Idempotency-Key is remembered at the edge, and so how long a core keeps
 * the outcome of an order it has forgotten (a tombstone): a retry within it never reserves twice.
 */
export const IDEMPOTENCY_WINDOW_MS = 86_400_000;

/** `("REDIS_URL", "us-east")` → `REDIS_URL_US_EAST`. */
export function regionVariable(prefix: string, regionId: string): string {
  return `${prefix}_${regionId.toUpperCase().replaceAll("-", "_")}`;
}

export const redisUrlVariable = (regionId: string) => regionVariable("REDIS_URL", regionId);

export function kafkaTopicFor(regionId: string): string {
  return `flux-gate.orders.${regionId}`;
}

export function loadConfig(env: Env = process.env, cwd = process.cwd()): Config {
  // Production unless told otherwise: a process started by hand (a unit file, a container)
  // must not run on the well-known development secrets without a word. npm start, the tests,
  // the demo and the bench say development.
  const mode = env.FLUX_GATE_ENV ?? "production";
  if (mode !== "development" && mode !== "production") {
    throw new ConfigError(`FLUX_GATE_ENV must be "development" or "production", not "${mode}"`);
  }
  const topology = env.FLUX_GATE_TOPOLOGY ?? "single";
  if (!(TOPOLOGIES as readonly string[]).includes(topology)) {
    throw new ConfigError(`FLUX_GATE_TOPOLOGY must be one of ${TOPOLOGIES.join(", ")}, not "${topology}"`);
  }
  const scaled = topology === "scaled";
  const regionIds = list(env.FLUX_GATE_REGIONS) ?? DEFAULT_REGIONS;
  for (const id of regionIds) {
    if (!REGION_ID.test(id)) {
      throw new ConfigError(`FLUX_GATE_REGIONS: "${id}" is not a region id (lowercase letters, digits and dashes)`);
    }
  }
  if (new Set(regionIds).size !== regionIds.length) {
    throw new ConfigError(`FLUX_GATE_REGIONS lists a region twice: ${regionIds.join(",")}`);
  }

  const defaultedSecrets = new Set<string>();
  const shortSecrets = new Set<string>();
  /** A secret from the environment; noted if it is missing (a default stands in) or short. */
  const secret = (name: string): string | undefined => {
    const value = env[name] || undefined;
    if (value === undefined) defaultedSecrets.add(name);
    else if (new TextEncoder().encode(value).length < MIN_SECRET_BYTES) shortSecrets.add(name);
    return value;
  };
  const orderIdSecret = secret("FLUX_GATE_ORDER_ID_SECRET");
  const redisUsers = onOff(env, "FLUX_GATE_REDIS_USERS", true);
  const redisPasswords = Object.fromEntries(
    REDIS_COMPONENTS.map((c) => [c, secret(redisPasswordVariable(c)) ?? `development-only-redis-password-${c}`]),
  ) as Record<RedisComponent, string>;
  // The scaled topology's services listen apart from the default's, so both stacks can be kept.
  const firstRedisPort = port(env, "FLUX_GATE_REDIS_PORT", scaled ? 7000 : 6380);
  const firstCorePort = port(env, "FLUX_GATE_CORE_PORT", 8101);
  const firstRedisRestPort = port(env, "FLUX_GATE_REDIS_REST_PORT", 8201);
  const firstWorkerPort = port(env, "FLUX_GATE_WORKER_PORT", 8401);
  const perRegion = scaled ? 2 : 1;
  /** Region `index`'s `n`th process of a kind: ports 10 apart, so regions' first ones stay side by side. */
  const instances = (first: number, index: number, variable: string): Instance[] => {
    const given = list(env[regionVariable(variable, regionIds[index]!)]);
    return Array.from({ length: perRegion }, (_, n) => first + index + 10 * n).map((p, n) => ({
      port: p,
      url: given?.[n] ?? `http://127.0.0.1:${p}`,
    }));
  };
  const regions = regionIds.map((id, index): Region => {
    // A cluster's six nodes (three masters, three replicas) per region, 10 ports apart per region.
    const redisPorts = scaled
      ? Array.from({ length: 6 }, (_, n) => firstRedisPort + 10 * index + n)
      : [firstRedisPort + index];
    const redisPort = redisPorts[0]!;
    const cores = instances(firstCorePort, index, "CORE_URL");
    const workers = instances(firstWorkerPort, index, "WORKER_URL");
    const external = env[redisUrlVariable(id)];
    const coreSecret = secret(regionVariable("CORE_SECRET", id));
    const adminSecret = secret(regionVariable("CORE_ADMIN_SECRET", id));
    const restToken = secret(regionVariable("REDIS_REST_TOKEN", id));
    const redisRestPort = firstRedisRestPort + index;
    const redisUrl = external ?? `redis://127.0.0.1:${redisPort}`;
    return {
      id,
      redisPort,
      redisUrl,
      redisUrlFor: Object.fromEntries(
        REDIS_COMPONENTS.map((c) => [c, redisUsers ? urlAs(redisUrl, c, redisPasswords[c]) : redisUrl]),
      ) as Record<RedisComponent, string>,
      redisExternal: external !== undefined,
      redisCluster: scaled,
      redisPorts,
      kafkaTopic: kafkaTopicFor(id),
      deadLetterTopic: `${kafkaTopicFor(id)}.dead-letter`,
      corePort: cores[0]!.port,
      coreUrl: cores[0]!.url,
      cores,
      coreSecret: coreSecret ?? `development-only-core-secret-${id}`,
      coreAdminSecret: adminSecret ?? `development-only-core-admin-secret-${id}`,
      redisRestPort,
      redisRestUrl: env[regionVariable("REDIS_REST_URL", id)] ?? `http://127.0.0.1:${redisRestPort}`,
      redisRestExternal: env[regionVariable("REDIS_REST_URL", id)] !== undefined,
      redisRestToken: restToken ?? `development-only-rest-token-${id}`,
      workerPort: workers[0]!.port,
      workerUrl: workers[0]!.url,
      workers,
    };
  });

  const appendFsync = env.FLUX_GATE_REDIS_APPENDFSYNC ?? "everysec";
  if (appendFsync !== "always" && appendFsync !== "everysec") {
    throw new ConfigError(`FLUX_GATE_REDIS_APPENDFSYNC must be "always" or "everysec", not "${appendFsync}"`);
  }

  const postgresPort = port(env, "FLUX_GATE_PG_PORT", 5433);
  const postgresUrl = env.DATABASE_URL ?? `postgres://postgres@127.0.0.1:${postgresPort}/${DATABASE_NAME}`;
  const poolPort = port(env, "FLUX_GATE_PGBOUNCER_PORT", 6432);
  const poolUrl = scaled
    ? (env.DATABASE_POOL_URL ?? `postgres://postgres@127.0.0.1:${poolPort}/${DATABASE_NAME}`)
    : postgresUrl;
  const kafkaPort = port(env, "FLUX_GATE_KAFKA_PORT", scaled ? 9192 : 9092);
  // Each node takes two ports: its broker's, then its controller's.
  const kafkaNodes = Array.from({ length: scaled ? 3 : 1 }, (_, n) => ({
    id: n + 1,
    port: kafkaPort + 2 * n,
    controllerPort: kafkaPort + 2 * n + 1,
  }));

  return {
    mode,
    topology: topology as Topology,
    defaultedSecrets,
    shortSecrets,
    home: resolve(cwd, env.FLUX_GATE_HOME ?? ".flux-gate"),
    listenHost: env.FLUX_GATE_LISTEN_HOST ?? "127.0.0.1",
    regions,
    redis: { appendFsync, users: redisUsers, passwords: redisPasswords },
    postgres: {
      url: postgresUrl,
      external: env.DATABASE_URL !== undefined,
      port: postgresPort,
      poolUrl,
      pooled: scaled,
      poolPort,
    },
    kafka: {
      brokers: list(env.KAFKA_BROKERS) ?? kafkaNodes.map((n) => `127.0.0.1:${n.port}`),
      external: env.KAFKA_BROKERS !== undefined,
      nodes: kafkaNodes,
      partitions: positiveInt(env, "FLUX_GATE_KAFKA_PARTITIONS", scaled ? 6 : 3),
      replicationFactor: scaled ? 3 : 1,
      minInsyncReplicas: scaled ? 2 : 1,
      heapMb: positiveInt(env, "FLUX_GATE_KAFKA_HEAP_MB", 512),
    },
    core: {
      outboxLimit: positiveInt(env, "FLUX_GATE_OUTBOX_LIMIT", 100_000),
      redisTimeoutMs: positiveInt(env, "FLUX_GATE_REDIS_TIMEOUT_MS", 1_000),
      replicaWaitMs: wholeNumber(env, "FLUX_GATE_REPLICA_WAIT_MS", scaled ? 500 : 0),
      sweepIntervalMs: positiveInt(env, "FLUX_GATE_SWEEP_INTERVAL_MS", 250),
      retentionMs: retention(env, mode),
      retentionIntervalMs: positiveInt(env, "FLUX_GATE_RETENTION_INTERVAL_MS", 5_000),
      maxBodyBytes: positiveInt(env, "FLUX_GATE_MAX_BODY_BYTES", 4_096),
      testHalt: testHalt(env, "FLUX_GATE_TEST_CORE_HALT", ["allocation-applied", "batch-half-applied"] as const),
    },
    admin: adminSettings(env, regionIds, defaultedSecrets),
    edge: edgeSettings(env, mode, regionIds, orderIdSecret),
  };
}

/**
 * FLUX_GATE_ADMIN_TOKENS is a JSON list of {name, scopes, token}. Without it, development runs
 * get one global token and one per region, with well-known values that production refuses.
 */
function adminSettings(env: Env, regionIds: string[], defaultedSecrets: Set<string>): Config["admin"] {
  const adminPort = port(env, "FLUX_GATE_ADMIN_PORT", 8300);
  let tokens: AdminToken[];
  if (env.FLUX_GATE_ADMIN_TOKENS === undefined) {
    defaultedSecrets.add("FLUX_GATE_ADMIN_TOKENS");
    tokens = [
      { name: "dev-global", scopes: ["global"], token: DEVELOPMENT_ADMIN_TOKEN },
      ...regionIds.map((id) => ({
        name: `dev-${id}`,
        scopes: [`region:${id}` as const],
        token: `${DEVELOPMENT_ADMIN_TOKEN}-${id}`,
      })),
    ];
  } else {
    tokens = parseAdminTokens(env.FLUX_GATE_ADMIN_TOKENS, regionIds);
  }
  return {
    port: adminPort,
    url: env.FLUX_GATE_ADMIN_URL ?? `http://127.0.0.1:${adminPort}`,
    tokens,
    resumeIntervalMs: positiveInt(env, "FLUX_GATE_TRANSFER_RESUME_MS", 2_000),
    testHaltAfter: env.FLUX_GATE_TEST_HALT_AFTER,
  };
}

export const DEVELOPMENT_ADMIN_TOKEN = "development-only-admin-token";

export function parseAdminTokens(value: string, regionIds: string[]): AdminToken[] {
  const fail = (why: string): never => {
    throw new ConfigError(`FLUX_GATE_ADMIN_TOKENS: ${why} (expected [{"name":"ops","scopes":["global"],"token":"…"}])`);
  };
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    return fail("not JSON");
  }
  if (!Array.isArray(parsed) || parsed.length === 0) return fail("not a non-empty list");
  const tokens = parsed.map((entry: unknown, i): AdminToken => {
    const { name, scopes, token } = (entry ?? {}) as Record<string, unknown>;
    if (typeof name !== "string" || name === "") fail(`entry ${i} has no name`);
    if (typeof token !== "string" || token.length < 16) fail(`${name}'s token is shorter than 16 characters`);
    if (!Array.isArray(scopes) || scopes.length === 0) fail(`${name} has no scopes`);
    for (const scope of scopes as unknown[]) {
      const known =
        scope === "global" ||
        (typeof scope === "string" && scope.startsWith("region:") && regionIds.includes(scope.slice(7)));
      if (!known)
        fail(
          `${name} has scope ${JSON.stringify(scope)}; scopes are "global" or "region:<id>" with id one of ${regionIds.join(", ")}`,
        );
    }
    return { name: name as string, scopes: scopes as AdminScope[], token: token as string };
  });
  const twice = (values: string[]) => values.find((v, i) => values.indexOf(v) !== i);
  if (twice(tokens.map((t) => t.name)))
    fail(`the name ${twice(tokens.map((t) => t.name))} is given twice: the audit log could not tell them apart`);
  if (twice(tokens.map((t) => t.token))) fail("two entries have the same token");
  if (tokens.some((t) => t.token.startsWith(DEVELOPMENT_ADMIN_TOKEN)))
    fail("a development token is not a secret; generate one");
  return tokens;
}

function edgeSettings(
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
  const edgePort = port(env, "FLUX_GATE_EDGE_PORT", 8080);
  const metricsPort = port(env, "FLUX_GATE_EDGE_METRICS_PORT", 8090);
  return {
    port: edgePort,
    url: env.FLUX_GATE_EDGE_URL ?? `http://127.0.0.1:${edgePort}`,
    metricsPort,
    metricsUrl: env.FLUX_GATE_EDGE_METRICS_URL ?? `http://127.0.0.1:${metricsPort}`,
    trustUserHeader,
    jwtSecret: env.FLUX_GATE_JWT_SECRET,
    jwksUrl: env.FLUX_GATE_JWKS_URL,
    jwtAudience: env.FLUX_GATE_JWT_AUDIENCE || undefined,
    jwtIssuer: env.FLUX_GATE_JWT_ISSUER || undefined,
    jwtHomeRegionClaim: env.FLUX_GATE_JWT_HOME_REGION_CLAIM || "home_region",
    jwtHomeRegionRequired: env.FLUX_GATE_JWT_HOME_REGION_REQUIRED === "1",
    trustedProxies: wholeNumber(env, "FLUX_GATE_TRUSTED_PROXIES", 0),
    orderIdSecret: orderIdSecret ?? "development-only-order-id-secret",
    rateLimit: {
      user: parseRateLimit("FLUX_GATE_RATE_LIMIT_USER", env.FLUX_GATE_RATE_LIMIT_USER ?? "20/10s"),
      ip: parseRateLimit("FLUX_GATE_RATE_LIMIT_IP", env.FLUX_GATE_RATE_LIMIT_IP ?? "60/10s"),
      ticket: parseRateLimit("FLUX_GATE_RATE_LIMIT_TICKET", env.FLUX_GATE_RATE_LIMIT_TICKET ?? "50/10s"),
    },
    coreTimeoutMs: positiveInt(env, "FLUX_GATE_CORE_TIMEOUT_MS", 2_000),
    redisTimeoutMs: positiveInt(env, "FLUX_GATE_EDGE_REDIS_TIMEOUT_MS", 500),
    roomWindowSeconds: positiveInt(env, "FLUX_GATE_ROOM_WINDOW_SECONDS", 120),
    testHalt: testHalt(env, "FLUX_GATE_TEST_EDGE_HALT", ["core-answered"] as const),
    countryRegions: parseCountryRegions(env.FLUX_GATE_COUNTRY_REGIONS ?? defaultCountryRegions(regionIds), regionIds),
  };
}

/**
 * The shortest retention production accepts: allocation change ids are forgotten with ended
 * orders, and a change stays applicable until its deadline (the admin's 3 s call and the 30 s
 * signature skew, admin/inventory/cores.ts); forgetting one sooner could let it apply twice.
 */
export const MIN_RETENTION_MS = 60_000;

function retention(env: Env, mode: Config["mode"]): number {
  const ms = positiveInt(env, "FLUX_GATE_ORDER_RETENTION_MS", 900_000);
  if (mode === "production" && ms < MIN_RETENTION_MS)
    throw new ConfigError(
      `FLUX_GATE_ORDER_RETENTION_MS must be at least ${MIN_RETENTION_MS} in production: an allocation change must be remembered past its deadline`,
    );
  return ms;
}

/** A crash test's stopping point for one component: unset, or one of `steps`. */
function testHalt<const S extends string>(env: Env, name: string, steps: readonly S[]): S | undefined {
  const value = env[name];
  if (value === undefined || (steps as readonly string[]).includes(value)) return value as S | undefined;
  throw new ConfigError(`${name} must be one of ${steps.join(", ")}, not "${value}"`);
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

export function regionById(config: Config, id: string): Region {
  const region = config.regions.find((r) => r.id === id);
  if (!region) {
    throw new ConfigError(`unknown region "${id}" (configured: ${config.regions.map((r) => r.id).join(", ")})`);
  }
  return region;
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

function list(value: string | undefined): string[] | undefined {
  const items = value
    ?.split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  return items && items.length > 0 ? items : undefined;
}

function onOff(env: Env, name: string, fallback: boolean): boolean {
  const value = env[name];
  if (value === undefined) return fallback;
  if (value === "on" || value === "off") return value === "on";
  throw new ConfigError(`${name} must be "on" or "off", not "${value}"`);
}

function positiveInt(env: Env, name: string, fallback: number): number {
  return wholeNumber(env, name, fallback, 1);
}

function wholeNumber(env: Env, name: string, fallback: number, min = 0): number {
  const raw = env[name];
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min) {
    throw new ConfigError(`${name} must be a ${min > 0 ? "positive " : ""}whole number, not "${raw}"`);
  }
  return value;
}

function port(env: Env, name: string, fallback: number): number {
  const value = positiveInt(env, name, fallback);
  if (value > 65535) throw new ConfigError(`${name} must be a TCP port (1-65535), not "${value}"`);
  return value;
}

/** A URL fit for logs: its password, if any, replaced by `***`. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (!parsed.password) return url;
    parsed.password = "***";
    return parsed.toString();
  } catch {
    return url;
  }
}
