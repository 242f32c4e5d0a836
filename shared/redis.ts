/**
 * Redis over TCP for the core and the tools (the edge speaks REST instead): one server, or a
 * Redis Cluster (ioredis's Cluster follows its slots, MOVED and failovers). Every call has a
 * deadline: a Redis that stops answering turns into an error, never into a hung request.
 */
import Redis, { Cluster } from "ioredis";
import type { Region } from "./config.ts";
import type { RespSend } from "./lua.ts";

/** A connection to a region's Redis, whichever its kind: both run the same commands and scripts. */
export type RedisConnection = Redis | Cluster;
export type { Redis };
export { Cluster };

export interface RedisOptions {
  /** Deadline for one command, in ms. */
  commandTimeoutMs?: number;
  /** Keep reconnecting in the background (services) or fail at once (probes, tools). */
  reconnect?: boolean;
  /** Write the commands issued in one tick together (one socket write for many requests). */
  autoPipelining?: boolean;
}

export function connectRedis(
  url: string,
  { commandTimeoutMs = 2_000, reconnect = true, autoPipelining = false }: RedisOptions = {},
): Redis {
  const redis = new Redis(url, {
    ...nodeOptions({ commandTimeoutMs, reconnect }),
    enableAutoPipelining: autoPipelining,
  });
  // Failures reach callers through their commands; without a listener ioredis also prints
  // every failed reconnect attempt.
  redis.on("error", () => {});
  return redis;
}

function nodeOptions({ commandTimeoutMs, reconnect }: { commandTimeoutMs: number; reconnect: boolean }) {
  return {
    connectTimeout: 2_000,
    commandTimeout: commandTimeoutMs,
    maxRetriesPerRequest: reconnect ? 1 : 0,
    enableOfflineQueue: reconnect,
    retryStrategy: reconnect ? (attempt: number) => Math.min(attempt * 100, 2_000) : () => null,
    lazyConnect: !reconnect,
  };
}

/**
 * The region's Redis as `url`'s user: a Cluster client seeded with every node the region names
 * when it runs a Redis Cluster, one connection otherwise.
 */
export function connectRegionRedis(region: Region, url: string, options: RedisOptions = {}): RedisConnection {
  if (!region.redisCluster) return connectRedis(url, options);
  const { commandTimeoutMs = 2_000, reconnect = true, autoPipelining = false } = options;
  const { hostname, username, password } = new URL(url);
  const cluster = new Cluster(
    region.redisPorts.map((port) => ({ host: hostname, port })),
    {
      redisOptions: {
        ...nodeOptions({ commandTimeoutMs, reconnect }),
        username: decodeURIComponent(username) || undefined,
        password: decodeURIComponent(password) || undefined,
      },
      enableOfflineQueue: reconnect,
      enableAutoPipelining: autoPipelining,
      lazyConnect: !reconnect,
      // A master lost: ask again until its replica has taken over (cluster-node-timeout 2 s, then
      // the election), within the caller's deadline.
      retryDelayOnFailover: 200,
      retryDelayOnClusterDown: 200,
      retryDelayOnTryAgain: 100,
      clusterRetryStrategy: reconnect ? (attempt) => Math.min(attempt * 100, 2_000) : () => null,
      slotsRefreshTimeout: 2_000,
    },
  );
  cluster.on("error", () => {});
  return cluster;
}

/**
 * One command at a time over ioredis, each within `timeoutMs` however long the client would keep
 * it queued (a cluster client queues commands while it learns or relearns the slots).
 */
export function sendWithin(redis: RedisConnection, timeoutMs: number): RespSend {
  return ([name, ...args]) => within(redis.call(String(name), ...args), timeoutMs);
}

/** `promise`, or a rejection once `timeoutMs` passed (the work itself may still finish). */
export function within<T>(promise: Promise<T>, timeoutMs: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`Redis did not answer within ${timeoutMs} ms`)), timeoutMs);
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}

/** Each master's own connection: what spans every product (INFO, a count of keys) asks them all. */
export const masters = (redis: RedisConnection): Redis[] =>
  redis instanceof Cluster ? redis.nodes("master") : [redis];

/** True when Redis answers PING (not while it is still loading its AOF). */
export async function redisIsReady(url: string): Promise<boolean> {
  const redis = connectRedis(url, { reconnect: false, commandTimeoutMs: 1_000 });
  try {
    await redis.connect();
    return (await redis.ping()) === "PONG";
  } catch {
    return false;
  } finally {
    redis.disconnect();
  }
}
