/**
 * Redis over RESP with Bun's own client, for the hot paths that run on Bun (the edge's admission,
 * the core's reservation): its socket writes cost a fraction of node:net's, which ioredis goes
 * through under Bun, and it writes one tick's commands in one write; gathered-send.ts makes the
 * commands of many ticks one tick's. Every command has a deadline, as ioredis's `commandTimeout`
 * gives the rest of the code.
 */
import { RedisClient } from "bun";
import type { RespSend } from "./lua.ts";
import { GATHER_DEFAULTS, gatheredSend } from "./gathered-send.ts";
import { within } from "./redis.ts";

/**
 * `gather`: a busy connection's commands leave in groups (shared/gathered-send.ts), for the
 * edge's many small commands. Not for the core's: its reservations leave in batches already, and
 * gathered behind those, commands waited longer (p99 at half the flat-out rate 68–73 → 125–174
 * ms, docs/benchmarks.md); nor for a connection that blocks (the relay's wait for notes).
 */
export function bunRedis(
  url: string,
  timeoutMs: number,
  { gather = false }: { gather?: boolean } = {},
): { send: RespSend; close(): void } {
  // Commands wait for a (re)connection in the client's queue; the caller's wait for each is
  // bounded (a command may still run after its caller gave up: the reservation carries a
  // deadline of its own for that). Reconnecting never gives up while the process runs.
  const client = new RedisClient(url, { connectionTimeout: timeoutMs, autoReconnect: true, maxRetries: 4_294_967_295 });
  client.connect().catch(() => {});
  const direct: RespSend = ([name, ...args]) => client.send(String(name), args.map(String));
  const send = gather ? gatheredSend(direct, { ...GATHER_DEFAULTS, timeoutMs }) : direct;
  return {
    send: (command) => within(send(command), timeoutMs),
    close: () => client.close(),
  };
}
