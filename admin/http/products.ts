/**
 * Products and their allocations: create, change, pause, allocate and rebalance (global tokens),
 * and each region's share, which a region's token may claim from the pool or release to it.
 */
import { Hono, type Context } from "hono";
import type { z } from "zod";
import { refuse } from "../../shared/problems.ts";
import { reaches } from "../access/tokens.ts";
import type { Change, MoveResult, ProductService } from "../inventory/products.ts";
import { regionAccess, requireScope, type AdminEnv } from "./auth.ts";
import { failedMove, moveResponse, refusedMove, transferBody } from "./replies.ts";
import type { AdminSchemas } from "./schemas.ts";
import { valid } from "./validator.ts";

export interface ProductDeps {
  products: ProductService;
  regionIds: string[];
  schemas: AdminSchemas;
}

export function productRoutes({ products, regionIds, schemas }: ProductDeps) {
  /** A product as the caller may see it: every region for global tokens, their own regions otherwise. */
  async function viewFor(c: Context<AdminEnv>, productId: string) {
    const view = await products.view(productId);
    if (!view || reaches(c.get("principal"), "global")) return view;
    const regions = view.regions.filter((r) => reaches(c.get("principal"), r.region));
    return { ...view, regions, available: regions.reduce((n, r) => n + (r.live?.available ?? 0), 0) };
  }

  /**
   * The answer to a set of moves: 409 with the first refusal's code; else 202 when one waits on
   * a core (the moves after it were abandoned, or finished if the resumer had started them: each
   * shows its state); else `success`. Each carries every move, so a partial change is never hidden.
   */
  async function allocationAnswer<Extra extends object = object>(
    c: Context<AdminEnv>,
    productId: string,
    moved: Change<MoveResult[]>,
    success: 200 | 201,
    extra?: Extra,
  ) {
    if (!moved.ok) return refusedMove(c, moved);
    const transfers = moved.value.map((m) => transferBody(m.transfer));
    const refused = moved.value.find((m) => m.transfer.state === "failed" && m.transfer.reason !== "move_abandoned");
    if (refused) return failedMove(c, refused.transfer, { ...extra, transfers });
    const waiting = moved.value.some((m) => m.transfer.state !== "completed");
    const view = (await viewFor(c, productId))!;
    return c.json({ ...view, ...(extra as Extra), transfers }, waiting ? 202 : success);
  }

  async function update(c: Context<AdminEnv>, change: z.output<AdminSchemas["update"]>) {
    const updated = await products.update(c.req.param("id")!, change);
    return updated.ok ? c.json(updated.value, 200) : refuse(c, updated.code, updated.detail);
  }

  /** Pool → the path's region (claim) or back (release), answered as a move. */
  async function move(
    c: Context<AdminEnv>,
    direction: "claim" | "release",
    body: z.output<AdminSchemas["claimOrRelease"]>,
  ) {
    const region = c.req.param("region")!;
    const ends = direction === "claim" ? { from: null, to: region } : { from: region, to: null };
    const moved = await products.move({
      id: body.transferId ?? crypto.randomUUID(),
      productId: c.req.param("id")!,
      units: body.units,
      requestedBy: c.get("principal").name,
      ...ends,
    });
    return moved.ok ? moveResponse(c, moved.value) : refusedMove(c, moved);
  }

  const globalOnly = requireScope("global");
  const inRegion = regionAccess(regionIds);

  return new Hono<AdminEnv>()
    .get("/v1/products", async (c) => c.json({ products: await products.list() }, 200))
    .post("/v1/products", globalOnly, valid("json", schemas.create), async (c) => {
      const { allocations, ...input } = c.req.valid("json");
      const given = Object.values(allocations ?? {}).reduce((n: number, u) => n + (u ?? 0), 0);
      if (given > input.totalUnits)
        return refuse(c, "invalid_request", `allocations: ${given} units given, the total is ${input.totalUnits}`);
      const created = await products.create(input);
      if (!created.ok) return refuse(c, created.code, created.detail);
      const moved = allocations
        ? await products.setAllocations(input.id, allocations as Record<string, number>, c.get("principal").name)
        : { ok: true as const, value: [] };
      return allocationAnswer(c, input.id, moved, 201);
    })
    .get("/v1/products/:id", async (c) => {
      const view = await viewFor(c, c.req.param("id"));
      return view ? c.json(view, 200) : refuse(c, "unknown_product", `no product ${c.req.param("id")}`);
    })
    .patch("/v1/products/:id", globalOnly, valid("json", schemas.update), (c) => update(c, c.req.valid("json")))
    .post("/v1/products/:id/pause", globalOnly, (c) => update(c, { paused: true }))
    .post("/v1/products/:id/resume", globalOnly, (c) => update(c, { paused: false }))
    .put("/v1/products/:id/allocations", globalOnly, valid("json", schemas.allocations), async (c) => {
      const id = c.req.param("id");
      const targets = c.req.valid("json").regions as Record<string, number>;
      return allocationAnswer(c, id, await products.setAllocations(id, targets, c.get("principal").name), 200);
    })
    .post("/v1/products/:id/rebalance", globalOnly, valid("json", schemas.rebalance), async (c) => {
      const { windowMinutes } = c.req.valid("json");
      const id = c.req.param("id");
      const done = await products.rebalance(id, windowMinutes, c.get("principal").name);
      if (!done.ok) return refusedMove(c, done);
      const { demand, shares, moves } = done.value;
      return allocationAnswer(c, id, { ok: true, value: moves }, 200, { windowMinutes, demand, shares });
    })
    .get("/v1/regions/:region/products/:id", inRegion, async (c) => {
      const region = c.req.param("region");
      const view = await products.view(c.req.param("id"));
      const here = view?.regions.find((r) => r.region === region);
      if (!view || !here) return refuse(c, "unknown_product", `no product ${c.req.param("id")}`);
      if (here.unreachable) return refuse(c, "unavailable", `${region}'s core did not answer`);
      const live = here.live ?? { allocated: 0, available: 0, held: 0, sold: 0 };
      return c.json({ productId: view.product.id, region, ...live, unallocated: view.unallocated }, 200);
    })
    .post("/v1/regions/:region/products/:id/claim", inRegion, valid("json", schemas.claimOrRelease), (c) =>
      move(c, "claim", c.req.valid("json")),
    )
    .post("/v1/regions/:region/products/:id/release", inRegion, valid("json", schemas.claimOrRelease), (c) =>
      move(c, "release", c.req.valid("json")),
    );
}
