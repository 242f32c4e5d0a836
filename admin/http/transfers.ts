/** Transfers: units moved between regions or the pool, asked for directly, and the ledger of them. */
import { Hono } from "hono";
import { z } from "zod";
import { refuse } from "../../shared/problems.ts";
import type { TransferLedger } from "../inventory/ledger.ts";
import type { ProductService } from "../inventory/products.ts";
import { forbiddenUnlessReaches, ownRegions, visible, type AdminEnv } from "./auth.ts";
import { moveResponse, refusedMove, transferBody } from "./replies.ts";
import { POOL, type AdminSchemas } from "./schemas.ts";
import { valid } from "./validator.ts";

export interface TransferDeps {
  products: ProductService;
  ledger: TransferLedger;
  regionIds: string[];
  schemas: AdminSchemas;
}

export function transferRoutes({ products, ledger, regionIds, schemas }: TransferDeps) {
  return new Hono<AdminEnv>()
    .post("/v1/transfers", valid("json", schemas.transfer), async (c) => {
      const body = c.req.valid("json");
      // Units leave only with the consent of the side that gives them; the pool's are the
      // taker's to claim, as on the claim route.
      const denied = forbiddenUnlessReaches(c, body.from === POOL ? body.to : body.from);
      if (denied) return denied;
      const end = (r: string) => (r === POOL ? null : r);
      const moved = await products.move({
        id: body.transferId ?? crypto.randomUUID(),
        productId: body.productId,
        from: end(body.from),
        to: end(body.to),
        units: body.units,
        requestedBy: c.get("principal").name,
      });
      return moved.ok ? moveResponse(c, moved.value) : refusedMove(c, moved);
    })
    .get("/v1/transfers", valid("query", schemas.list), async (c) => {
      const { productId, limit } = c.req.valid("query");
      const transfers = await ledger.list({ productId, regions: ownRegions(c, regionIds), limit });
      return c.json({ transfers: transfers.map(transferBody) }, 200);
    })
    .get("/v1/transfers/:id", async (c) => {
      const id = c.req.param("id");
      const transfer = z.uuid().safeParse(id).success ? await ledger.get(id) : undefined;
      if (!transfer || !visible(c.get("principal"), transfer)) return refuse(c, "not_found", `no transfer ${id}`);
      return c.json(transferBody(transfer), 200);
    });
}
