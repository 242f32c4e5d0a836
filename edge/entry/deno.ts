/** The edge on Deno: `deno run --allow-net --allow-env --allow-read --allow-sys edge/entry/deno.ts`. */
import { loadConfig } from "../../shared/config.ts";
import { createEdgeApp } from "../app.ts";

// The subset of Deno's API this file uses (the project type-checks with Bun's types).
declare const Deno: {
  env: { toObject(): Record<string, string> };
  cwd(): string;
  serve(options: { port: number; hostname: string; onListen?: (addr: { port: number }) => void }, handler: (request: Request) => Response | Promise<Response>): unknown;
};

const config = loadConfig(Deno.env.toObject(), Deno.cwd());
const app = createEdgeApp(config);
Deno.serve(
  {
    port: config.edge.port,
    hostname: config.listenHost,
    onListen: ({ port }) => console.log(JSON.stringify({ level: "info", component: "edge", runtime: "deno", message: "listening", url: `http://${config.listenHost}:${port}` })),
  },
  app.fetch,
);
