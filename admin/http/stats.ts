/** What the dashboard charts: each region's rates and queues now, and the last five minutes. */
import { Hono } from "hono";
import { HISTORY_SECONDS, type HistoryPoint } from "../dashboard/history.ts";
import type { RegionStats } from "../dashboard/stats.ts";
import { ownRegions, type AdminEnv } from "./auth.ts";

export interface StatsDeps {
  regionIds: string[];
  stats: () => Promise<RegionStats[]>;
  history?: () => HistoryPoint[];
}

export function statsRoutes({ regionIds, stats, history }: StatsDeps) {
  return (
    new Hono<AdminEnv>()
      .get("/v1/stats", async (c) => {
        const own = ownRegions(c, regionIds);
        return c.json({ regions: (await stats()).filter((r) => !own || own.includes(r.region)) }, 200);
      })
      // A region's token sees its own regions in every point; the edge's latency is everyone's.
      .get("/v1/stats/history", (c) => {
        const own = ownRegions(c, regionIds);
        const points = (history?.() ?? []).map((p) =>
          own ? { ...p, regions: Object.fromEntries(Object.entries(p.regions).filter(([id]) => own.includes(id))) } : p,
        );
        return c.json({ seconds: HISTORY_SECONDS, points }, 200);
      })
  );
}
