/** A product's availability, per region and overall (GET /v1/products/{id}), from the shared cache. */
import { OpenAPIHono } from "@hono/zod-openapi";
import type { Region } from "../../shared/config.ts";
import { problem, problemHeaders } from "../../shared/problems.ts";
import { fromCore } from "../answers.ts";
import { AVAILABILITY_TTL_MS, type AvailabilityCache } from "../availability.ts";
import { UNKNOWN_TTL_MS } from "../sale-terms.ts";
import { outOfContract, problemReply } from "./replies.ts";
import { availabilitySchema, edgeRoutes } from "./routes.ts";
import type { EdgeHonoEnv } from "./variables.ts";

export function productRoutes({ regions, availability }: { regions: Region[]; availability: AvailabilityCache }) {
  return new OpenAPIHono<EdgeHonoEnv>().openapi(edgeRoutes.product, async (c) => {
    const id = c.req.valid("param").id;
    const rows = await availability.rows(regions, id);
    const sales = rows.flatMap((row, i) => (row.kind === "sale" ? [{ region: regions[i]!.id, sale: row.sale }] : []));
    if (sales.length === 0) {
      if (rows.some((row) => row.kind === "unknown")) return problemReply(c, fromCore({ kind: "timeout" }), [503]);
      return c.json(
        problem("unknown_product", `${id} is not on sale in any region`),
        404,
        problemHeaders(404, { "Cache-Control": `public, max-age=${UNKNOWN_TTL_MS / 1000}` }),
      );
    }
    // A region that did not answer in time is a row of nulls: unknown, not empty.
    type Row = { available: number | null; held: number | null; sold: number | null };
    const byRegion: Record<string, Row> = {};
    for (const [i, row] of rows.entries()) {
      const region = regions[i]!.id;
      if (row.kind === "sale")
        byRegion[region] = { available: row.sale.available, held: row.sale.held, sold: row.sale.sold };
      else if (row.kind === "unknown") byRegion[region] = { available: null, held: null, sold: null };
    }
    const sale = sales[0]!.sale;
    const body = availabilitySchema.safeParse({
      productId: id,
      startsAt: sale.startsAt,
      endsAt: sale.endsAt,
      paused: sale.paused,
      available: sales.reduce((n, s) => n + s.sale.available, 0),
      regions: byRegion,
    });
    if (!body.success) return outOfContract(c, "a sale this edge cannot read");
    return c.json(body.data, 200, { "Cache-Control": `public, max-age=${AVAILABILITY_TTL_MS / 1000}` });
  });
}
