/**
 * RESP with Bun's own Redis client (shared/bun-redis.ts), for the Bun edge: on Bun about 1.5 × the
 * orders per second of ioredis (docs/benchmarks.md).
 */
import { bunRedis } from "../../shared/bun-redis.ts";
import type { HomeRedisTransport } from "./home.ts";
import { overResp, respHomeRedis } from "./resp.ts";

export const bunHomeRedis: HomeRedisTransport = {
  connect(region, timeoutMs) {
    // Bun's client knows no Redis Cluster; ioredis's follows one's slots.
    if (region.redisCluster) return respHomeRedis.connect(region, timeoutMs);
    const { send, close } = bunRedis(region.redisUrlFor.edge, timeoutMs, { gather: true });
    return overResp(send, close);
  },
  secrets: respHomeRedis.secrets,
};
