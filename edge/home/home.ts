/**
 * A buyer's home-region Redis as the edge sees it: scripts, two hash commands and a ping, each
 * within the edge's deadline. Two transports implement it: RESP over TCP (Bun, Deno) and the
 * Upstash REST protocol (Workers). The same scripts and keys run on both, so edges of both kinds
 * can serve one deployment.
 */
import type { Redis as Upstash } from "@upstash/redis";
import type { Config, Region } from "../../shared/config.ts";
import type { LuaScript, RespArg } from "../../shared/lua.ts";

export interface HomeRedis {
  /** EVALSHA, and EVAL when Redis does not know the script yet (after a restart or a flush). */
  run(script: LuaScript, keys: string[], args: RespArg[]): Promise<unknown>;
  hget(key: string, field: string): Promise<string | null>;
  hdel(key: string, field: string): Promise<number>;
  ping(): Promise<boolean>;
  /** The client `@upstash/ratelimit` counts through, on the same connection. */
  readonly ratelimit: Upstash;
  close(): void;
}

/** How an edge reaches a region's Redis: one client per region for the app's life. */
export interface HomeRedisTransport {
  connect(region: Region, timeoutMs: number): HomeRedis;
  /** The secrets it reads per region, which production refuses to run without. */
  secrets(config: Config, regionId: string): string[];
}
