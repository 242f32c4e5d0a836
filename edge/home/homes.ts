/**
 * Each region as a buyer's home: its Redis and the admission store over it, one per region for
 * the app's life. The waiting room keeps its queues in the same Redis.
 */
import { IDEMPOTENCY_WINDOW_MS, type Config } from "../../shared/config.ts";
import { admissionStore, type AdmissionStore } from "../admission/admission.ts";
import type { HomeRedis, HomeRedisTransport } from "./home.ts";

/** How long a finished request is remembered. */
const KEEP_SECONDS = IDEMPOTENCY_WINDOW_MS / 1000;

export interface Home {
  redis: HomeRedis;
  admission: AdmissionStore;
}

/** Lease: longer than any one request can run (every region asked, each call within its deadline). */
function leaseMs(config: Config): number {
  return (
    config.regions.length * (config.edge.coreTimeoutMs + config.edge.redisTimeoutMs) +
    2 * config.edge.redisTimeoutMs +
    1_000
  );
}

export function homesFor(config: Config, transport: HomeRedisTransport): Map<string, Home> {
  const settings = { leaseMs: leaseMs(config), keepSeconds: KEEP_SECONDS };
  return new Map(
    config.regions.map((region) => {
      const redis = transport.connect(region, config.edge.redisTimeoutMs);
      return [region.id, { redis, admission: admissionStore(redis, settings) }];
    }),
  );
}
