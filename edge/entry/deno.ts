/** The edge on Deno: `deno run --allow-net --allow-env --allow-read --allow-sys edge/entry/deno.ts`. Redis over RESP. */
import { loadConfig } from "../../shared/config.ts";
import { logger } from "../../shared/log.ts";
import { createEdgeApp } from "../app.ts";
import { backgroundWork } from "../background.ts";
import { respHomeRedis } from "../home/resp.ts";

// The subset of Deno's API this file uses (the project type-checks with Bun's types).
declare const Deno: {
  env: { toObject(): Record<string, string> };
  cwd(): string;
  serve(
    options: { port: number; hostname: string; onListen?: (addr: { port: number }) => void },
    handler: (request: Request, info: { remoteAddr: { hostname: string } }) => Response | Promise<Response>,
  ): { shutdown(): Promise<void> };
  addSignalListener(signal: "SIGINT" | "SIGTERM", handler: () => void): void;
  exit(code: number): never;
};

const config = loadConfig(Deno.env.toObject(), Deno.cwd());
const app = createEdgeApp(config, { redis: respHomeRedis });
const background = backgroundWork();
const server = Deno.serve(
  {
    port: config.edge.port,
    hostname: config.listenHost,
    onListen: ({ port }) =>
      logger("edge").info("listening", { runtime: "deno", url: `http://${config.listenHost}:${port}` }),
  },
  (request, info) => app.fetch(request, { clientAddress: info.remoteAddr.hostname }, background.context),
);

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  Deno.addSignalListener(signal, async () => {
    await server.shutdown();
    await background.flush();
    Deno.exit(0);
  });
}
