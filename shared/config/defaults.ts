/** The regions when FLUX_GATE_REGIONS is unset. */
export const DEFAULT_REGIONS = ["us-east", "eu-west"];

/**
 * What each setting is when the environment leaves it unset: the one place a default is
 * written. The fields of `Config` link here from their docs; docs/configuration.md gives the
 * same values to operators. A setting that differs between topologies has one value for each.
 */
export const DEFAULTS = {
  // Production unless told otherwise: a process started by hand (a unit file, a container)
  // must not run on the well-known development secrets without a word. npm start, the tests,
  // the demo and the bench say development.
  mode: "production",
  topology: "single",
  home: ".flux-gate",
  listenHost: "127.0.0.1",
  // The first region's ports; the next regions count up from them. The scaled topology's
  // services listen apart from the default's, so both stacks can be kept.
  region: {
    redisPort: { single: 6380, scaled: 7000 },
    corePort: 8101,
    redisRestPort: 8201,
    workerPort: 8401,
  },
  redis: { appendFsync: "everysec", users: true },
  postgres: { port: 5433, poolPort: 6432 },
  kafka: {
    port: { single: 9092, scaled: 9192 },
    partitions: { single: 3, scaled: 6 },
    heapMb: 512,
  },
  core: {
    outboxLimit: 100_000,
    redisTimeoutMs: 1_000,
    replicaWaitMs: { single: 0, scaled: 500 },
    sweepIntervalMs: 250,
    retentionMs: 900_000,
    retentionIntervalMs: 5_000,
    maxBodyBytes: 4_096,
  },
  admin: { port: 8300, resumeIntervalMs: 2_000 },
  edge: {
    port: 8080,
    metricsPort: 8090,
    jwtHomeRegionClaim: "home_region",
    trustedProxies: 0,
    // The room's page looks at its ticket twice a second.
    rateLimit: { user: "20/10s", ip: "60/10s", ticket: "50/10s" },
    coreTimeoutMs: 2_000,
    redisTimeoutMs: 500,
    roomWindowSeconds: 120,
  },
} as const;

/** Where a service of the local stack is reached when no URL is given for it. */
export const localUrl = (port: number) => `http://127.0.0.1:${port}`;
