/**
 * RESP over TCP with Bun's own Redis client, for the Bun edge: its socket writes cost a fraction
 * of node:net's under Bun, and it pipelines the commands of concurrent requests by itself.
 */
import { RedisClient } from "bun";
import type { Redis as Upstash } from "@upstash/redis";
import { ScriptHashes } from "../../shared/script-flags.ts";
import { isNoScript, type HomeRedisConnector, type ScriptArg } from "./home.ts";

export const bunHomeRedis: HomeRedisConnector = (region, timeoutMs) => {
  // Commands wait for a (re)connection in the client's queue, each bounded by its own deadline;
  // reconnecting never gives up while the edge runs.
  const redis = new RedisClient(region.redisUrl, { connectionTimeout: timeoutMs, autoReconnect: true, maxRetries: 4_294_967_295 });
  redis.connect().catch(() => {});
  const flags = new ScriptHashes();
  const call = (command: ScriptArg[]): Promise<unknown> => {
    const sent = flags.rewrite(command);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`Redis did not answer within ${timeoutMs} ms`)), timeoutMs);
    });
    return Promise.race([redis.send(String(sent[0]), sent.slice(1).map(String)), deadline]).finally(() => clearTimeout(timer));
  };
  const evalsha = (sha: string, keys: string[], args: ScriptArg[]) => call(["EVALSHA", sha, keys.length, ...keys, ...args]);
  const evalSource = (source: string, keys: string[], args: ScriptArg[]) => call(["EVAL", source, keys.length, ...keys, ...args]);

  return {
    run: (script, keys, args) => evalsha(script.sha, keys, args).catch((error: unknown) => (isNoScript(error) ? evalSource(script.source, keys, args) : Promise.reject(error))),
    hget: (key, field) => call(["HGET", key, field]) as Promise<string | null>,
    hdel: (key, field) => call(["HDEL", key, field]) as Promise<number>,
    ping: () => call(["PING"]).then((r) => r === "PONG", () => false),
    ratelimit: { evalsha, eval: evalSource } as unknown as Upstash,
    close: () => redis.close(),
  };
};
