/**
 * RESP over TCP, for the Bun and Deno edges: ioredis here (Deno, and any edge whose region runs
 * a Redis Cluster), Bun's own client in bun-resp.ts. Commands of concurrent requests share one connection per region, written back to
 * back without waiting for each other, so the admission script and the rate limit of one order
 * cost one round trip.
 */
import type { Redis as Upstash } from "@upstash/redis";
import { redisUserSecrets } from "../../shared/config.ts";
import { connectRegionRedis, sendWithin } from "../../shared/redis.ts";
import { runScript, type RespArg, type RespSend } from "../../shared/lua.ts";
import { ScriptHashes } from "../../shared/script-flags.ts";
import type { HomeRedis, HomeRedisTransport } from "./home.ts";

/** A HomeRedis over any RESP client's "send one command" (which keeps the deadline). */
export function overResp(send: RespSend, close: () => void): HomeRedis {
  // @upstash/ratelimit's scripts carry a shebang flag Redis 7.0 refuses; see script-flags.ts.
  const flags = new ScriptHashes();
  const call: RespSend = (command) => send(flags.rewrite(command));
  const evalsha = (sha: string, keys: string[], args: RespArg[]) =>
    call(["EVALSHA", sha, keys.length, ...keys, ...args]);
  const evalSource = (source: string, keys: string[], args: RespArg[]) =>
    call(["EVAL", source, keys.length, ...keys, ...args]);
  return {
    run: (script, keys, args) => runScript(call, script, keys, args),
    hget: (key, field) => call(["HGET", key, field]) as Promise<string | null>,
    hdel: (key, field) => call(["HDEL", key, field]) as Promise<number>,
    ping: () =>
      call(["PING"]).then(
        (r) => r === "PONG",
        () => false,
      ),
    // @upstash/ratelimit's sliding window (analytics off) calls evalsha, then eval on NOSCRIPT,
    // and nothing else: that much of the Upstash client is all it needs
    // (tests/edge/home-redis.test.ts checks it decides as it does through REST).
    ratelimit: { evalsha, eval: evalSource } as unknown as Upstash,
    close,
  };
}

export const respHomeRedis: HomeRedisTransport = {
  connect(region, timeoutMs) {
    const redis = connectRegionRedis(region, region.redisUrlFor.edge, {
      commandTimeoutMs: timeoutMs,
      autoPipelining: true,
    });
    return overResp(sendWithin(redis, timeoutMs), () => redis.disconnect());
  },
  secrets: (config) => redisUserSecrets(config, "edge"),
};
