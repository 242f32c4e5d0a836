/**
 * The edge on Cloudflare Workers (see wrangler.toml): configuration comes from the bindings, Redis
 * over the Upstash REST protocol, completions through `ctx.waitUntil`.
 */
import { loadConfig } from "../../shared/config.ts";
import { createEdgeApp } from "../app.ts";
import { restHomeRedis } from "../home/rest.ts";

type Bindings = Record<string, string | undefined>;

let app: ReturnType<typeof createEdgeApp> | undefined;

export default {
  fetch(request: Request, env: Bindings, ctx: ExecutionContext): Response | Promise<Response> {
    // Bindings arrive with the first request; build once per isolate.
    app ??= createEdgeApp(loadConfig(env, "/"), { redis: restHomeRedis, reservations: "per-order" });
    return app.fetch(request, env, ctx);
  },
} satisfies ExportedHandler<Bindings>;
