/** The edge on Cloudflare Workers (see wrangler.toml): configuration comes from the bindings. */
import { loadConfig } from "../../shared/config.ts";
import { createEdgeApp } from "../app.ts";

type Bindings = Record<string, string | undefined>;

let app: ReturnType<typeof createEdgeApp> | undefined;

export default {
  fetch(request: Request, env: Bindings, ctx: ExecutionContext): Response | Promise<Response> {
    // Bindings arrive with the first request; build once per isolate.
    app ??= createEdgeApp(loadConfig(env, "/"));
    return app.fetch(request, env, ctx);
  },
} satisfies ExportedHandler<Bindings>;
