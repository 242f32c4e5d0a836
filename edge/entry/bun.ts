/** The edge on Bun: `bun edge/entry/bun.ts`. Redis over RESP; completions finish before exit. */
import { loadConfig } from "../../shared/config.ts";
import { createRegistry, instrument } from "../../shared/metrics.ts";
import { createEdgeApp } from "../app.ts";
import { backgroundWork } from "../background.ts";
import { bunHomeRedis } from "../home/bun-resp.ts";
import { roomMetrics } from "../room/metrics.ts";

const config = loadConfig();
const registry = createRegistry("edge");
const app = createEdgeApp(config, {
  redis: bunHomeRedis,
  instrument: (app) => instrument(app, registry),
  observeRoom: roomMetrics(registry),
});
const background = backgroundWork();
const server = Bun.serve({
  port: config.edge.port,
  hostname: config.listenHost,
  fetch: (request, bun) => app.fetch(request, { clientAddress: bun.requestIP(request)?.address }, background.context),
});
console.log(
  JSON.stringify({
    time: new Date().toISOString(),
    level: "info",
    component: "edge",
    message: "listening",
    url: `http://127.0.0.1:${server.port}`,
  }),
);

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.on(signal, async () => {
    await server.stop();
    await background.flush();
    process.exit(0);
  });
}
