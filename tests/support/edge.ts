/**
 * An edge under test: real core and worker processes, real Redis REST adapters in this process (for
 * the Workers edge), and an edge app built from a configuration that points at them.
 */
import { edgeAllowList } from "../../redis-rest/allow-list.ts";
import { SignJWT } from "jose";
import { createRedisRestApp } from "../../redis-rest/app.ts";
import { createServer, type Server, type Socket } from "node:net";
import { createEdgeApp, type EdgeDeps } from "../../edge/app.ts";
import { backgroundWork } from "../../edge/background.ts";
import { respHomeRedis } from "../../edge/home/resp.ts";
import { loadConfig, regionVariable } from "../../shared/config.ts";
import { connectRedis } from "../../shared/redis.ts";
import { config } from "./helpers.ts";
import { TEST_CORE_PORT } from "./harness.ts";

export type Env = Record<string, string | undefined>;

/** One REST adapter per region, in this process. */
export function startRedisRestAdapters() {
  const servers = config.regions.map((region) => {
    const redis = connectRedis(region.redisUrlFor.edge);
    const server = Bun.serve({
      port: 0,
      hostname: "127.0.0.1",
      fetch: createRedisRestApp({ redis, token: region.redisRestToken, allow: edgeAllowList(region.id) }).fetch,
    });
    return { region, redis, server };
  });
  const env: Env = Object.fromEntries(
    servers.map(({ region, server }) => [
      regionVariable("REDIS_REST_URL", region.id),
      `http://127.0.0.1:${server.port}`,
    ]),
  );
  return {
    env,
    stop() {
      for (const { server, redis } of servers) {
        server.stop(true);
        redis.disconnect();
      }
    },
  };
}

/** The environment an edge under test runs with: test cores, the given REST adapters, dev identity. */
export function edgeEnv(restAdapters: Env, overrides: Env = {}): Env {
  return {
    ...process.env,
    FLUX_GATE_CORE_PORT: String(TEST_CORE_PORT),
    FLUX_GATE_DEV_IDENTITY: "1",
    FLUX_GATE_RATE_LIMIT_USER: "1000/10s",
    FLUX_GATE_RATE_LIMIT_IP: "100000/10s",
    FLUX_GATE_RATE_LIMIT_TICKET: "100000/10s",
    ...restAdapters,
    ...overrides,
  };
}

/** An edge app; its Redis over RESP, as on Bun and Deno, unless given the REST client (Workers). */
export function edgeApp(env: Env, { redis = respHomeRedis, ...deps }: Partial<EdgeDeps> = {}) {
  return createEdgeApp(loadConfig(env), { redis, ...deps });
}

/** How a test reaches an edge: in-process (`app.request`) or over HTTP, whatever the runtime. */
export type Send = (path: string, init?: RequestInit) => Promise<Response>;

/** In-process requests get the work they leave behind (completions) run as Bun's entry runs it. */
export const inProcess = (app: ReturnType<typeof edgeApp>): Send => {
  const background = backgroundWork();
  return async (path, init) => await app.request(path, init, {}, background.context);
};
export const overHttp =
  (base: string): Send =>
  (path, init) =>
    fetch(base + path, init);

/** An order as a client places it. */
export function order(
  send: Send,
  { user, key, body, headers = {} }: { user: string; key?: string; body: unknown; headers?: Record<string, string> },
) {
  return send("/v1/orders", {
    method: "POST",
    headers: {
      "Content-Type": "application/json",
      "X-User-Id": user,
      ...(key ? { "Idempotency-Key": key } : {}),
      ...headers,
    },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
}

/** A client JWT (HS256, a minute to live), as an identity provider signs one with `secret`. */
export function clientToken(secret: string, claims: Record<string, unknown>): Promise<string> {
  return new SignJWT(claims)
    .setProtectedHeader({ alg: "HS256" })
    .setIssuedAt()
    .setExpirationTime("1m")
    .sign(new TextEncoder().encode(secret));
}

/** Units available in `region`, as the edge reports them (uncached: a fresh product each time). */
export async function stockIn(send: Send, region: string, productId: string): Promise<number | undefined> {
  const body = (await (await send(`/v1/products/${productId}`)).json()) as {
    regions: Record<string, { available: number }>;
  };
  return body.regions[region]?.available;
}

/** A TCP server that accepts connections and never answers: a stalled core, Redis or REST adapter. */
export async function blackhole(): Promise<{ port: number; close(): void }> {
  const sockets: Socket[] = [];
  const server: Server = createServer((s) => void sockets.push(s)).listen(0, "127.0.0.1");
  await new Promise((r) => server.once("listening", r));
  return {
    port: (server.address() as { port: number }).port,
    close() {
      for (const s of sockets) s.destroy();
      server.close();
    },
  };
}
