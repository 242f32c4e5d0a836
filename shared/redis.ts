/**
 * Redis over TCP for the core and the tools (the edge speaks REST instead). Every call has a
 * deadline: a Redis that stops answering turns into an error, never into a hung request.
 */
import Redis from "ioredis";

export type { Redis };

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
    connectTimeout: 2_000,
    commandTimeout: commandTimeoutMs,
    maxRetriesPerRequest: reconnect ? 1 : 0,
    enableOfflineQueue: reconnect,
    retryStrategy: reconnect ? (attempt) => Math.min(attempt * 100, 2_000) : () => null,
    lazyConnect: !reconnect,
    enableAutoPipelining: autoPipelining,
  });
  // Failures reach callers through their commands; without a listener ioredis also prints
  // every failed reconnect attempt.
  redis.on("error", () => {});
  return redis;
}

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
