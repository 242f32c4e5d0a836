/** The edge on Bun: `bun edge/entry/bun.ts`. */
import { loadConfig } from "../../shared/config.ts";
import { createEdgeApp } from "../app.ts";

const config = loadConfig();
const server = Bun.serve({ port: config.edge.port, hostname: config.listenHost, fetch: createEdgeApp(config).fetch });
console.log(JSON.stringify({ time: new Date().toISOString(), level: "info", component: "edge", message: "listening", url: `http://127.0.0.1:${server.port}` }));

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.on(signal, async () => {
    await server.stop();
    process.exit(0);
  });
}
