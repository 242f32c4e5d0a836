/**
 * Redis over RESP with Bun's own client, for the hot paths that run on Bun (the edge's admission,
 * the core's reservation): its socket writes cost a fraction of node:net's, which ioredis goes
 * through under Bun, and it pipelines concurrent commands by itself. Every command has a
 * deadline, as ioredis's `commandTimeout` gives the rest of the code.
 */
import { RedisClient } from "bun";
import type { RespSend } from "./lua.ts";
import { within } from "./redis.ts";

export function bunRedis(url: string, timeoutMs: number): { send: RespSend; close(): void } {
  // Commands wait for a (re)connection in the client's queue; the caller's wait for each is
  // bounded (a command may still run after its caller gave up: the reservation carries a
  // deadline of its own for that). Reconnecting never gives up while the process runs.
  const client = new RedisClient(url, { connectionTimeout: timeoutMs, autoReconnect: true, maxRetries: 4_294_967_295 });
  client.connect().catch(() => {});
  return {
    send: ([name, ...args]) => within(client.send(String(name), args.map(String)), timeoutMs),
    close: () => client.close(),
  };
}
