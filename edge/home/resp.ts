/**
 * RESP over TCP (ioredis), for the Bun and Deno edges. Commands of concurrent requests share one
 * connection per region, written back to back without waiting for each other, so the admission
 * script and the rate limit of one order cost one round trip.
 */
import type { Redis as Upstash } from "@upstash/redis";
import { connectRedis } from "../../shared/redis.ts";
import { ScriptHashes } from "../../shared/script-flags.ts";
import { isNoScript, type HomeRedisConnector, type ScriptArg } from "./home.ts";

export const respHomeRedis: HomeRedisConnector = (region, timeoutMs) => {
  const redis = connectRedis(region.redisUrl, { commandTimeoutMs: timeoutMs, autoPipelining: true });
  const flags = new ScriptHashes();
  const call = (command: ScriptArg[]) => {
    const sent = flags.rewrite(command);
    return redis.call(String(sent[0]), ...sent.slice(1));
  };
  const evalsha = (sha: string, keys: string[], args: ScriptArg[]) => call(["EVALSHA", sha, keys.length, ...keys, ...args]);
  const evalSource = (source: string, keys: string[], args: ScriptArg[]) => call(["EVAL", source, keys.length, ...keys, ...args]);

  return {
    run: (script, keys, args) => evalsha(script.sha, keys, args).catch((error: unknown) => (isNoScript(error) ? evalSource(script.source, keys, args) : Promise.reject(error))),
    hget: (key, field) => redis.hget(key, field),
    hdel: (key, field) => redis.hdel(key, field),
    ping: () => redis.ping().then((r) => r === "PONG", () => false),
    // @upstash/ratelimit's sliding window (analytics off) calls evalsha, then eval on NOSCRIPT,
    // and nothing else: that much of the Upstash client is all it needs
    // (tests/edge/home-redis.test.ts checks it decides as it does through REST).
    ratelimit: { evalsha, eval: evalSource } as unknown as Upstash,
    close: () => redis.disconnect(),
  };
};
