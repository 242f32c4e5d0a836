/** The edge on Bun: `bun edge/entry/bun.ts`. Redis over RESP; completions finish before exit. */
import { loadConfig } from "../../shared/config.ts";
import { logger } from "../../shared/log.ts";
import { createRegistry, instrument, metricsResponse } from "../../shared/metrics.ts";
import { createEdgeApp } from "../app.ts";
import { peerOnDemand } from "../client-address.ts";
import { backgroundWork } from "../background.ts";
import { bunHomeRedis } from "../home/bun-resp.ts";
import { roomMetrics } from "../room/metrics.ts";

const config = loadConfig();
const registry = createRegistry("edge");
const app = createEdgeApp(config, {
  redis: bunHomeRedis,
  instrument: (app) => instrument(app, registry, { serve: false }),
  observeRoom: roomMetrics(registry),
});
const background = backgroundWork();
const server = Bun.serve({
  port: config.edge.port,
  hostname: config.listenHost,
  fetch: (request, bun) =>
    app.fetch(
      request,
      peerOnDemand(() => bun.requestIP(request)?.address),
      background.context,
    ),
});
// Metrics on a private listener: they name products and rooms, and every scrape asks each region's Redis.
const metrics = Bun.serve({
  port: config.edge.metricsPort,
  hostname: "127.0.0.1",
  fetch: (request) =>
    new URL(request.url).pathname === "/metrics" ? metricsResponse(registry) : new Response(null, { status: 404 }),
});
logger("edge").info("listening", {
  url: `http://127.0.0.1:${server.port}`,
  metrics: `http://127.0.0.1:${metrics.port}/metrics`,
});

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.on(signal, async () => {
    await Promise.all([server.stop(), metrics.stop()]);
    await background.flush();
    process.exit(0);
  });
}
