/** The worker's small HTTP face: liveness, readiness and Prometheus metrics. */
import { Hono } from "hono";
import type { Registry } from "prom-client";
import { instrument } from "../shared/metrics.ts";

export function createWorkerApp({
  registry,
  ready,
}: {
  registry: Registry;
  ready: () => Promise<Record<string, boolean>>;
}) {
  const app = new Hono();
  instrument(app, registry);
  app.get("/health", (c) => c.json({ status: "ok" }));
  app.get("/ready", async (c) => {
    const checks = await ready();
    const ok = Object.values(checks).every(Boolean);
    return c.json({ status: ok ? "ready" : "not ready", ...checks }, ok ? 200 : 503);
  });
  return app;
}
