/**
 * The dashboard's page and its chart library, public: everything the page shows comes from /v1
 * with the token it signs in with.
 */
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { Hono } from "hono";
import type { AdminEnv } from "./auth.ts";

const DASHBOARD = readFileSync(new URL("../dashboard/page.html", import.meta.url), "utf8");
// The chart library from node_modules, served by this process: no CDN, nothing fetched at run time.
const CHART_ASSETS: Record<string, { type: string; body: string }> = {
  "uplot.js": {
    type: "text/javascript",
    body: readFileSync(createRequire(import.meta.url).resolve("uplot/dist/uPlot.iife.min.js"), "utf8"),
  },
  "uplot.css": {
    type: "text/css",
    body: readFileSync(createRequire(import.meta.url).resolve("uplot/dist/uPlot.min.css"), "utf8"),
  },
};

export function dashboardRoutes() {
  const app = new Hono<AdminEnv>();
  app.get("/dashboard", (c) =>
    c.html(DASHBOARD, 200, {
      // Its own script and styles only, talking to this origin; never framed.
      "Content-Security-Policy":
        "default-src 'none'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; connect-src 'self'; img-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
    }),
  );
  for (const [name, asset] of Object.entries(CHART_ASSETS)) {
    app.get(`/dashboard/${name}`, (c) =>
      c.body(asset.body, 200, {
        "Content-Type": `${asset.type}; charset=utf-8`,
        "Cache-Control": "public, max-age=86400",
      }),
    );
  }
  return app;
}
