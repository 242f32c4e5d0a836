/** What the test files share: the configuration the stack runs with, unique names, sale rules, a Redis of a test's own. */
import { createServer } from "node:net";
import type { SaleRules } from "../../core/reservation/types.ts";
import { loadConfig } from "../../shared/config.ts";
import { redisIsReady } from "../../shared/redis.ts";
import { waitUntil } from "../../stack/process.ts";

export const config = loadConfig();

/** A name no earlier test run used, so runs against a warm stack never see old data. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
}

/** A sale running from a minute ago for an hour, under a unique product id. */
export function saleRules(prefix: string, overrides: Partial<SaleRules> = {}): SaleRules {
  return {
    productId: uniqueName(prefix),
    startsAt: new Date(Date.now() - 60_000),
    endsAt: new Date(Date.now() + 3_600_000),
    perUserLimit: 100,
    maxPerOrder: 5,
    holdSeconds: 600,
    paused: false,
    roomMode: "off",
    roomRate: 100,
    buckets: 1,
    ...overrides,
  };
}

async function freePort(): Promise<number> {
  const server = createServer().listen(0, "127.0.0.1");
  await new Promise((r) => server.once("listening", r));
  const port = (server.address() as { port: number }).port;
  await new Promise((r) => server.close(r));
  return port;
}

/**
 * A Redis of the test's own (no persistence, noeviction), for tests that change server-wide
 * settings or read server-wide counters, which would disturb or be disturbed by other tests.
 */
export async function ownRedis(): Promise<{ url: string; stop(): Promise<void> }> {
  const port = await freePort();
  const url = `redis://127.0.0.1:${port}`;
  const server = Bun.spawn(
    [
      "redis-server",
      "--port",
      String(port),
      "--bind",
      "127.0.0.1",
      "--save",
      "",
      "--appendonly",
      "no",
      "--maxmemory-policy",
      "noeviction",
    ],
    { stdout: "ignore", stderr: "ignore" },
  );
  if (!(await waitUntil(() => redisIsReady(url), 10_000, 50)))
    throw new Error(`redis-server on port ${port} did not come up`);
  return {
    url,
    async stop() {
      server.kill();
      await server.exited;
    },
  };
}

/** A core's path for an order, as the tests call it by hand (the apps use core/http/client.ts). */
export function coreOrderPath(
  orderId: string,
  { productId, action }: { productId?: string; action?: "confirm" | "cancel" } = {},
): string {
  return `/v1/orders/${encodeURIComponent(orderId)}${action ? `/${action}` : ""}${productId ? `?productId=${encodeURIComponent(productId)}` : ""}`;
}
