/**
 * The shape of a deployment's description. Each setting's doc names the environment variable
 * that sets it and links its default in `DEFAULTS`; docs/configuration.md is the operators' table.
 */
import type { RedisComponent } from "../redis-users.ts";
import type { DEFAULT_REGIONS, DEFAULTS, localUrl } from "./defaults.ts";

export interface Region {
  id: string;
  /**
   * Redis over TCP as its operator: the stack's tools, `verify`, the tests.
   * @env REDIS_URL_<REGION>
   * @default the stack's own Redis, `redis://127.0.0.1:<redisPort>`
   */
  redisUrl: string;
  /**
   * Redis as each component reaches it: its own user (deploy/redis/users.acl), unless
   * FLUX_GATE_REDIS_USERS=off.
   */
  redisUrlFor: Record<RedisComponent, string>;
  /** Set when REDIS_URL_<REGION> points at a Redis the stack does not run. */
  redisExternal: boolean;
  /**
   * Port of the stack's own Redis for this region (unused when external). The variable gives the
   * first region's; the next regions count up.
   * @env FLUX_GATE_REDIS_PORT
   * @default {@link DEFAULTS.region.redisPort}
   */
  redisPort: number;
  /** The region's order-event topic, `flux-gate.orders.<region>`. */
  kafkaTopic: string;
  /** Where messages the worker cannot apply go, with the reason in their headers. */
  deadLetterTopic: string;
  /**
   * The region's first core, as the tools reach it (the edge spreads orders over all of `cores`).
   * @env CORE_URL_<REGION> (its first entry)
   * @default {@link localUrl}(corePort)
   */
  coreUrl: string;
  /**
   * Port the region's first local core listens on. The variable gives the first region's; the
   * next regions count up.
   * @env FLUX_GATE_CORE_PORT
   * @default {@link DEFAULTS.region.corePort}
   */
  corePort: number;
  /**
   * Every core of the region (one by default; two in the scaled topology, the second 10 ports
   * above the first), sharing its Redis.
   * @env CORE_URL_<REGION>, comma-separated
   * @default {@link localUrl} of each core's port
   */
  cores: Instance[];
  /**
   * Shared secret that signs the edge's requests to the core (HMAC-SHA256).
   * @env CORE_SECRET_<REGION>
   * @default a development-only value, refused in production (`requireSecrets`, secrets.ts)
   */
  coreSecret: string;
  /**
   * Signs the admin API's requests to the core's /admin routes, which change allocations:
   * apart from `coreSecret`, so that an edge (which holds every region's) cannot add units.
   * @env CORE_ADMIN_SECRET_<REGION>
   * @default a development-only value, refused in production (`requireSecrets`, secrets.ts)
   */
  coreAdminSecret: string;
  /** The region's Redis is a Redis Cluster (`redisUrl` one of its nodes): the scaled topology. */
  redisCluster: boolean;
  /** Ports of the stack's own Redis for this region: one, or the cluster's nodes (masters first). */
  redisPorts: number[];
  /**
   * The region's Redis over the Upstash REST protocol, for the edge.
   * @env REDIS_REST_URL_<REGION>
   * @default {@link localUrl}(redisRestPort): the stack's REST adapter
   */
  redisRestUrl: string;
  /**
   * The REST endpoint's bearer token.
   * @env REDIS_REST_TOKEN_<REGION>
   * @default a development-only value, refused in production (`requireSecrets`, secrets.ts)
   */
  redisRestToken: string;
  /** Set when REDIS_REST_URL_<REGION> points at a REST endpoint the stack does not run. */
  redisRestExternal: boolean;
  /**
   * Port the local Redis REST adapter listens on (unused when REDIS_REST_URL_<REGION> is set).
   * The variable gives the first region's; the next regions count up.
   * @env FLUX_GATE_REDIS_REST_PORT
   * @default {@link DEFAULTS.region.redisRestPort}
   */
  redisRestPort: number;
  /**
   * The first worker's /health, /ready and /metrics. The variable gives the first region's; the
   * next regions count up.
   * @env FLUX_GATE_WORKER_PORT
   * @default {@link DEFAULTS.region.workerPort}
   */
  workerPort: number;
  /**
   * Where the first worker is reached.
   * @env WORKER_URL_<REGION> (its first entry)
   * @default {@link localUrl}(workerPort)
   */
  workerUrl: string;
  /**
   * Every worker of the region: one consumer group sharing the region's partitions.
   * @env WORKER_URL_<REGION>, comma-separated
   * @default {@link localUrl} of each worker's port
   */
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
  /**
   * "production" refuses development defaults such as the built-in secrets.
   * @env FLUX_GATE_ENV
   * @default {@link DEFAULTS.mode}
   */
  mode: "development" | "production";
  /**
   * @env FLUX_GATE_TOPOLOGY
   * @default {@link DEFAULTS.topology}
   */
  topology: Topology;
  /** Secrets that fell back to their development default; see `requireSecrets`. */
  defaultedSecrets: Set<string>;
  /** Secrets given shorter than MIN_SECRET_BYTES: refused in production like missing ones. */
  shortSecrets: Set<string>;
  /**
   * Data, logs and pid files of the local stack, resolved against the working directory.
   * @env FLUX_GATE_HOME
   * @default {@link DEFAULTS.home}
   */
  home: string;
  /**
   * Where every Flux-Gate server binds: loopback locally, 0.0.0.0 in a container.
   * @env FLUX_GATE_LISTEN_HOST
   * @default {@link DEFAULTS.listenHost}
   */
  listenHost: string;
  /**
   * @env FLUX_GATE_REGIONS, comma-separated ids
   * @default {@link DEFAULT_REGIONS}
   */
  regions: Region[];
  redis: {
    /**
     * @env FLUX_GATE_REDIS_APPENDFSYNC
     * @default {@link DEFAULTS.redis.appendFsync}
     */
    appendFsync: AppendFsync;
    /**
     * Each component connects as its own Redis user; off for a Redis without ACLs.
     * @env FLUX_GATE_REDIS_USERS, `on` or `off`
     * @default {@link DEFAULTS.redis.users}
     */
    users: boolean;
    /**
     * Each component's Redis user's password.
     * @env FLUX_GATE_REDIS_PASSWORD_EDGE, _CORE, _WORKER
     * @default development-only values, refused in production (`requireSecrets`, secrets.ts)
     */
    passwords: Record<RedisComponent, string>;
  };
  postgres: {
    /**
     * @env DATABASE_URL
     * @default the stack's own PostgreSQL, on `port`
     */
    url: string;
    /** Set when DATABASE_URL points at a PostgreSQL the stack does not run. */
    external: boolean;
    /**
     * Port of the stack's own PostgreSQL.
     * @env FLUX_GATE_PG_PORT
     * @default {@link DEFAULTS.postgres.port}
     */
    port: number;
    /**
     * What the workers and the admin API connect to: PgBouncer (transaction pooling) in the
     * scaled topology, PostgreSQL itself otherwise.
     * @env DATABASE_POOL_URL (scaled topology)
     * @default the stack's own PgBouncer, on `poolPort`
     */
    poolUrl: string;
    /** Set when `poolUrl` is PgBouncer: no named prepared statements across transactions. */
    pooled: boolean;
    /**
     * Port of the stack's own PgBouncer (scaled topology).
     * @env FLUX_GATE_PGBOUNCER_PORT
     * @default {@link DEFAULTS.postgres.poolPort}
     */
    poolPort: number;
  };
  kafka: {
    /**
     * @env KAFKA_BROKERS, comma-separated `host:port`
     * @default the stack's own `nodes`
     */
    brokers: string[];
    /** Set when KAFKA_BROKERS points at brokers the stack does not run. */
    external: boolean;
    /**
     * The stack's own brokers (one, or three in the scaled topology), each a broker and a
     * controller: two ports each, counting up from the first.
     * @env FLUX_GATE_KAFKA_PORT (the first broker's)
     * @default {@link DEFAULTS.kafka.port}
     */
    nodes: { id: number; port: number; controllerPort: number }[];
    /**
     * Partitions of each region's topic.
     * @env FLUX_GATE_KAFKA_PARTITIONS
     * @default {@link DEFAULTS.kafka.partitions}
     */
    partitions: number;
    /** Copies of each topic's partitions: 1, or 3 in the scaled topology. */
    replicationFactor: number;
    /** How many copies must have a write before it is acknowledged: 1, or 2 in the scaled topology. */
    minInsyncReplicas: number;
    /**
     * The stack's brokers' Java heap.
     * @env FLUX_GATE_KAFKA_HEAP_MB
     * @default {@link DEFAULTS.kafka.heapMb}
     */
    heapMb: number;
  };
  core: {
    /**
     * Outbox entries one (region, product) may hold before the core sheds load with 503.
     * @env FLUX_GATE_OUTBOX_LIMIT
     * @default {@link DEFAULTS.core.outboxLimit}
     */
    outboxLimit: number;
    /**
     * Redis command deadline: past it a request gets 503, never a hang.
     * @env FLUX_GATE_REDIS_TIMEOUT_MS
     * @default {@link DEFAULTS.core.redisTimeoutMs}
     */
    redisTimeoutMs: number;
    /**
     * After a reservation, wait this long for one replica to have it (`WAIT 1`) before the 202;
     * none in time: 503. 0: no wait (a Redis without replicas).
     * @env FLUX_GATE_REPLICA_WAIT_MS
     * @default {@link DEFAULTS.core.replicaWaitMs}
     */
    replicaWaitMs: number;
    /**
     * How often the sweeper expires holds past their hold time.
     * @env FLUX_GATE_SWEEP_INTERVAL_MS
     * @default {@link DEFAULTS.core.sweepIntervalMs}
     */
    sweepIntervalMs: number;
    /**
     * How long an ended order stays in Redis once PostgreSQL holds it (then a tombstone remains).
     * Production refuses less than `MIN_RETENTION_MS`.
     * @env FLUX_GATE_ORDER_RETENTION_MS
     * @default {@link DEFAULTS.core.retentionMs}
     */
    retentionMs: number;
    /**
     * Pause between two passes of the retention sweep.
     * @env FLUX_GATE_RETENTION_INTERVAL_MS
     * @default {@link DEFAULTS.core.retentionIntervalMs}
     */
    retentionIntervalMs: number;
    /**
     * Largest request body the core reads.
     * @env FLUX_GATE_MAX_BODY_BYTES
     * @default {@link DEFAULTS.core.maxBodyBytes}
     */
    maxBodyBytes: number;
    /**
     * Crash tests only: an allocation change applied in Redis is never answered, or a batch of
     * reservations is never answered once its first half is reserved (the test kills the core there).
     */
    testHalt?: "allocation-applied" | "batch-half-applied";
  };
  admin: {
    /**
     * @env FLUX_GATE_ADMIN_PORT
     * @default {@link DEFAULTS.admin.port}
     */
    port: number;
    /**
     * Where the CLI and the dashboard reach the admin API.
     * @env FLUX_GATE_ADMIN_URL
     * @default {@link localUrl}(port)
     */
    url: string;
    /**
     * @env FLUX_GATE_ADMIN_TOKENS, a JSON list of {name, scopes, token}
     * @default development-only tokens, one global and one per region, refused in production
     * (`requireSecrets`, secrets.ts)
     */
    tokens: AdminToken[];
    /**
     * How often unfinished transfers are picked up again after a crash or an outage.
     * @env FLUX_GATE_TRANSFER_RESUME_MS
     * @default {@link DEFAULTS.admin.resumeIntervalMs}
     */
    resumeIntervalMs: number;
    /** Crash tests only: the transfer driver stops dead after this step, to be killed there. */
    testHaltAfter?: string;
  };
  edge: {
    /**
     * The buyers' port (Bun, Deno).
     * @env FLUX_GATE_EDGE_PORT
     * @default {@link DEFAULTS.edge.port}
     */
    port: number;
    /**
     * Where the edge is reached.
     * @env FLUX_GATE_EDGE_URL
     * @default {@link localUrl}(port)
     */
    url: string;
    /**
     * The Bun edge's /metrics, on a listener of its own on 127.0.0.1: the buyers' port serves none.
     * @env FLUX_GATE_EDGE_METRICS_PORT
     * @default {@link DEFAULTS.edge.metricsPort}
     */
    metricsPort: number;
    /**
     * Where the dashboard reads the Bun edge's /metrics.
     * @env FLUX_GATE_EDGE_METRICS_URL
     * @default {@link localUrl}(metricsPort)
     */
    metricsUrl: string;
    /**
     * Trust `X-User-Id` instead of a JWT: local runs only, refused in production.
     * @env FLUX_GATE_DEV_IDENTITY, `1` to turn it on
     * @default off
     */
    trustUserHeader: boolean;
    /**
     * HS256 secret for client JWTs (at least `MIN_SECRET_BYTES` in production).
     * @env FLUX_GATE_JWT_SECRET
     */
    jwtSecret?: string;
    /**
     * JWKS URL for asymmetric client JWTs (production also needs `jwtAudience` and `jwtIssuer`).
     * @env FLUX_GATE_JWKS_URL
     */
    jwksUrl?: string;
    /**
     * The `aud` a client JWT must carry, when set.
     * @env FLUX_GATE_JWT_AUDIENCE
     */
    jwtAudience?: string;
    /**
     * The `iss` a client JWT must carry, when set.
     * @env FLUX_GATE_JWT_ISSUER
     */
    jwtIssuer?: string;
    /**
     * The client JWT claim naming the buyer's home region (the account's region, set by the
     * identity provider): where the buyer's idempotency records, rate limits and allowances live.
     * Without it, a hash of the user id picks the home (shared/home-region.ts).
     * @env FLUX_GATE_JWT_HOME_REGION_CLAIM
     * @default {@link DEFAULTS.edge.jwtHomeRegionClaim}
     */
    jwtHomeRegionClaim: string;
    /**
     * Refuse a client JWT without the home claim. Turn it on once the identity provider puts the
     * claim in every token: while tokens with and without it are both valid, a buyer holding one
     * of each has two homes, two allowances and two records per Idempotency-Key
     * (docs/production.md).
     * @env FLUX_GATE_JWT_HOME_REGION_REQUIRED, `1` to turn it on
     * @default off
     */
    jwtHomeRegionRequired: boolean;
    /**
     * Proxies in front of the edge whose X-Forwarded-For entries are believed (0: the socket's
     * peer is the client).
     * @env FLUX_GATE_TRUSTED_PROXIES
     * @default {@link DEFAULTS.edge.trustedProxies}
     */
    trustedProxies: number;
    /**
     * Key for deriving order ids from (client, Idempotency-Key).
     * @env FLUX_GATE_ORDER_ID_SECRET
     * @default a development-only value, refused in production (`requireSecrets`, secrets.ts)
     */
    orderIdSecret: string;
    /**
     * Requests per window, `20/10s` style: per buyer, per client address, and per waiting-room
     * ticket (looks at a ticket and its orders).
     * @env FLUX_GATE_RATE_LIMIT_USER, FLUX_GATE_RATE_LIMIT_IP, FLUX_GATE_RATE_LIMIT_TICKET
     * @default {@link DEFAULTS.edge.rateLimit}
     */
    rateLimit: { user: RateLimitSetting; ip: RateLimitSetting; ticket: RateLimitSetting };
    /**
     * Deadline for a call to a core.
     * @env FLUX_GATE_CORE_TIMEOUT_MS
     * @default {@link DEFAULTS.edge.coreTimeoutMs}
     */
    coreTimeoutMs: number;
    /**
     * Deadline for one call to a buyer's home-region Redis: past it the buyer gets a fast 503.
     * @env FLUX_GATE_EDGE_REDIS_TIMEOUT_MS
     * @default {@link DEFAULTS.edge.redisTimeoutMs}
     */
    redisTimeoutMs: number;
    /**
     * How long a buyer the waiting room admitted may take to order (edge/room/).
     * @env FLUX_GATE_ROOM_WINDOW_SECONDS
     * @default {@link DEFAULTS.edge.roomWindowSeconds}
     */
    roomWindowSeconds: number;
    /** Crash tests only: after a core answers, the order never completes (the test kills the edge there). */
    testHalt?: "core-answered";
    /**
     * Country code → regions in order of preference; `*` for every other country.
     * @env FLUX_GATE_COUNTRY_REGIONS, `US:us-east,eu-west;DE:eu-west,us-east;*:us-east,eu-west`
     * @default `defaultCountryRegions` in ./edge.ts: the Americas to us-east, Europe to eu-west,
     * where those regions exist; everyone else in the order of `regions`
     */
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
