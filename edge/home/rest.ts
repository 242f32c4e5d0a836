/**
 * The Upstash REST protocol (@upstash/redis), for the Workers edge: Upstash itself, or the
 * project's REST adapter in front of a region's Redis. Auto-pipelining puts the commands of
 * concurrent requests into one HTTP request; every HTTP request has the edge's deadline.
 */
import { Redis as Upstash } from "@upstash/redis";
import { regionVariable } from "../../shared/config.ts";
import { evalScript } from "../../shared/lua.ts";
import type { HomeRedisTransport } from "./home.ts";

export const restHomeRedis: HomeRedisTransport = {
  connect(region, timeoutMs) {
    const redis = new Upstash({
      url: region.redisRestUrl,
      token: region.redisRestToken,
      enableTelemetry: false,
      enableAutoPipelining: true,
      // Replies as Redis gives them: a stored answer is text, not JSON to be parsed on the way.
      automaticDeserialization: false,
      // A retry would double the deadline: the buyer gets a fast 503 and retries with the same key.
      retry: false,
      signal: () => AbortSignal.timeout(timeoutMs),
    });
    return {
      run: (script, keys, args) =>
        evalScript(
          script,
          keys,
          () => redis.evalsha(script.sha, keys, args),
          () => redis.eval(script.source, keys, args),
        ),
      hget: (key, field) => redis.hget<string>(key, field).then((v) => (v === null ? null : String(v))),
      hdel: (key, field) => redis.hdel(key, field),
      ping: () =>
        redis.ping().then(
          (r) => r === "PONG",
          () => false,
        ),
      ratelimit: redis,
      close: () => {},
    };
  },
  secrets: (_config, regionId) => [regionVariable("REDIS_REST_TOKEN", regionId)],
};
