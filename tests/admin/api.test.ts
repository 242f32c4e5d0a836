/**
 * The admin API on real PostgreSQL and real cores: products, claims, releases and transfers
 * move units exactly as asked; scopes, bad input and refusals get their documented errors.
 */
import { describe, expect, test } from "bun:test";
import { desc, eq } from "drizzle-orm";
import { drive } from "../../admin/inventory/moves.ts";
import { adminAudit, allocations, inventoryTransfers } from "../../db/schema.ts";
import { verify } from "../../cli/verify/verify.ts";
import { config, uniqueName } from "../support/helpers.ts";
import {
  adminApp,
  adminServices,
  coreClient,
  database,
  pooled,
  waitForOrders,
  withCoresAndWorkers,
} from "../support/harness.ts";

const REGIONS = ["us-east", "eu-west"];
const TOKENS = {
  ops: "test-global-token-0123456789",
  eu: "test-eu-west-token-0123456789",
  us: "test-us-east-token-0123456789",
};
const { app, ledger } = adminApp(REGIONS, [
  { name: "ops", scopes: ["global"], token: TOKENS.ops },
  { name: "eu-ops", scopes: ["region:eu-west"], token: TOKENS.eu },
  { name: "us-ops", scopes: ["region:us-east"], token: TOKENS.us },
]);

function as(token: string | undefined) {
  return (method: string, path: string, body?: unknown) =>
    app.request(path, {
      method,
      headers: { ...(token ? { Authorization: `Bearer ${token}` } : {}), "Content-Type": "application/json" },
      body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
    });
}
const ops = as(TOKENS.ops);
const eu = as(TOKENS.eu);
const us = as(TOKENS.us);

function productBody(overrides: Record<string, unknown> = {}) {
  return {
    id: uniqueName("adm"),
    name: "Admin test phone",
    totalUnits: 100,
    startsAt: new Date(Date.now() - 60_000).toISOString(),
    endsAt: new Date(Date.now() + 3_600_000).toISOString(),
    perUserLimit: 10,
    maxPerOrder: 5,
    holdSeconds: 600,
    allocations: { "us-east": 60, "eu-west": 30 },
    ...overrides,
  };
}

async function newProduct(overrides: Record<string, unknown> = {}): Promise<string> {
  const body = productBody(overrides);
  const response = await ops("POST", "/v1/products", body);
  expect(response.status).toBe(201);
  return body.id;
}

async function liveUnits(id: string) {
  const view = (await (await ops("GET", `/v1/products/${id}`)).json()) as {
    unallocated: number;
    inTransit: number;
    regions: {
      region: string;
      allocation: number;
      live: { allocated: number; available: number; held: number; sold: number };
    }[];
  };
  const at = (r: string) => view.regions.find((x) => x.region === r)!;
  return { unallocated: view.unallocated, inTransit: view.inTransit, usEast: at("us-east"), euWest: at("eu-west") };
}

async function expectProblem(response: Response, status: number, code: string) {
  expect(response.status).toBe(status);
  expect(response.headers.get("Content-Type")).toBe("application/problem+json");
  const body = (await response.json()) as { code: string; type: string };
  expect(body.code).toBe(code);
  expect(body.type).toBe(`urn:flux-gate:problem:${code}`);
  return body;
}

async function reserveIn(region: string, productId: string, userId: string, quantity: number): Promise<string> {
  const orderId = crypto.randomUUID();
  const response = await coreClient(region).reserve({ orderId, userId, productId, quantity });
  expect(response.status).toBe(202);
  return orderId;
}

async function expectVerified(id: string) {
  const result = await verify(config, { productIds: [id], settleMs: 15_000 });
  expect(result.drifts).toEqual([]);
}

describe("admin API", () => {
  withCoresAndWorkers(REGIONS);

  test("a global admin creates a product allocated across regions; PostgreSQL and each region's Redis agree", async () => {
    const id = await newProduct();
    expect(await liveUnits(id)).toMatchObject({
      unallocated: 10,
      inTransit: 0,
      usEast: { allocation: 60, live: { allocated: 60, available: 60, held: 0, sold: 0 } },
      euWest: { allocation: 30, live: { allocated: 30, available: 30, held: 0, sold: 0 } },
    });
    const reserved = await coreClient("eu-west").reserve({ userId: "buyer", productId: id, quantity: 2 });
    expect(reserved.status).toBe(202);
    const region = await eu("GET", `/v1/regions/eu-west/products/${id}`);
    expect(await region.json()).toEqual({
      productId: id,
      region: "eu-west",
      allocated: 30,
      available: 28,
      held: 2,
      sold: 0,
      unallocated: 10,
    });
    await expectVerified(id);
  });

  test("GET /v1/me names the token's holder and scopes; no token is 401", async () => {
    expect(await (await ops("GET", "/v1/me")).json()).toEqual({ name: "ops", scopes: ["global"] });
    expect(await (await eu("GET", "/v1/me")).json()).toEqual({ name: "eu-ops", scopes: ["region:eu-west"] });
    await expectProblem(await as(undefined)("GET", "/v1/me"), 401, "unauthenticated");
  });

  test("the transfer list is the ledger, newest first, cut at limit, and a region token sees its own side's moves only", async () => {
    const id = await newProduct();
    const moves = [
      { from: "us-east", to: "eu-west", units: 1 },
      { from: "pool", to: "us-east", units: 2 },
      { from: "eu-west", to: "pool", units: 3 },
    ];
    for (const move of moves) expect((await ops("POST", "/v1/transfers", { productId: id, ...move })).status).toBe(201);
    const list = async (call: typeof ops, query: string) =>
      (
        (await (await call("GET", `/v1/transfers?productId=${id}${query}`)).json()) as {
          transfers: { from: string; to: string; units: number }[];
        }
      ).transfers;
    // After the two claims that allocated the new product (planned together, so in either order).
    const all = (await list(ops, "")).map((t) => `${t.from}>${t.to}:${t.units}`);
    expect(all.slice(0, 3)).toEqual(["eu-west>pool:3", "pool>us-east:2", "us-east>eu-west:1"]);
    expect(all.slice(3).sort()).toEqual(["pool>eu-west:30", "pool>us-east:60"]);
    expect((await list(ops, "&limit=2")).map((t) => t.units)).toEqual([3, 2]);
    expect((await list(us, "")).map((t) => t.units)).toEqual([2, 1, 60]);
    await expectProblem(await ops("GET", "/v1/transfers?limit=0"), 400, "invalid_request");
  });

  test("region admins claim from the pool and release available units of their own region", async () => {
    const id = await newProduct();
    const claimed = await eu("POST", `/v1/regions/eu-west/products/${id}/claim`, { units: 8 });
    expect(claimed.status).toBe(201);
    expect(await claimed.json()).toMatchObject({
      productId: id,
      from: "pool",
      to: "eu-west",
      units: 8,
      state: "completed",
      requestedBy: "eu-ops",
    });
    const released = await us("POST", `/v1/regions/us-east/products/${id}/release`, { units: 20 });
    expect(released.status).toBe(201);
    expect(await liveUnits(id)).toMatchObject({
      unallocated: 22,
      usEast: { allocation: 40, live: { allocated: 40, available: 40 } },
      euWest: { allocation: 38, live: { allocated: 38, available: 38 } },
    });
    await expectVerified(id);
  });

  test("a transfer moves units region to region; repeating its id moves nothing more; another transfer under that id is refused", async () => {
    const id = await newProduct();
    const transferId = crypto.randomUUID();
    const move = { transferId, productId: id, from: "us-east", to: "eu-west", units: 15 };
    const first = await us("POST", "/v1/transfers", move);
    expect(first.status).toBe(201);
    const again = await us("POST", "/v1/transfers", move);
    expect(again.status).toBe(200);
    expect(await again.json()).toMatchObject({ transferId, state: "completed" });
    expect(await liveUnits(id)).toMatchObject({
      usEast: { live: { allocated: 45 } },
      euWest: { live: { allocated: 45 } },
      unallocated: 10,
    });
    const other = await expectProblem(
      await us("POST", "/v1/transfers", { ...move, units: 3 }),
      409,
      "transfer_conflict",
    );
    expect(other).toMatchObject({ transfer: { transferId, units: 15 } });
    expect(await (await eu("GET", `/v1/transfers/${transferId}`)).json()).toMatchObject({
      state: "completed",
      from: "us-east",
      to: "eu-west",
    });
    await expectVerified(id);
  });

  test("held and sold units never move; the pool never goes below zero; nothing moves on a refusal", async () => {
    const id = await newProduct({ totalUnits: 20, allocations: { "us-east": 10, "eu-west": 5 } });
    for (const user of ["a", "b"])
      expect((await coreClient("us-east").reserve({ userId: user, productId: id, quantity: 4 })).status).toBe(202);
    const refused = await expectProblem(
      await ops("POST", "/v1/transfers", { productId: id, from: "us-east", to: "eu-west", units: 3 }),
      409,
      "insufficient_available",
    );
    expect(refused).toMatchObject({ transfer: { state: "failed", reason: "insufficient_available" } });
    await expectProblem(
      await ops("POST", `/v1/regions/eu-west/products/${id}/claim`, { units: 6 }),
      409,
      "insufficient_pool",
    );
    await expectProblem(
      await ops("PUT", `/v1/products/${id}/allocations`, { regions: { "us-east": 1 } }),
      409,
      "insufficient_available",
    );
    // The claim planned after a refused release is abandoned, not made, and the answer shows both.
    const partial = await expectProblem(
      await ops("PUT", `/v1/products/${id}/allocations`, { regions: { "us-east": 1, "eu-west": 10 } }),
      409,
      "insufficient_available",
    );
    expect(
      (
        partial as unknown as { transfers: { from: string; to: string; state: string; reason: string }[] }
      ).transfers.map((t) => [t.from, t.to, t.state, t.reason]),
    ).toEqual([
      ["us-east", "pool", "failed", "insufficient_available"],
      ["pool", "eu-west", "failed", "move_abandoned"],
    ]);
    expect(await liveUnits(id)).toMatchObject({
      unallocated: 5,
      usEast: { allocation: 10, live: { allocated: 10, available: 2, held: 8 } },
      euWest: { allocation: 5, live: { allocated: 5, available: 5 } },
    });
    await expectProblem(await ops("PATCH", `/v1/products/${id}`, { totalUnits: 14 }), 409, "total_below_allocated");
    await expectVerified(id);
  });

  test("allocations are not set again while a move of the product is in flight, so a retry cannot move units twice", async () => {
    const id = await newProduct();
    const inFlight = {
      id: crypto.randomUUID(),
      productId: id,
      fromRegion: null,
      toRegion: "eu-west",
      units: 5,
      requestedBy: "test",
    };
    await database.db.insert(inventoryTransfers).values(inFlight);
    await expectProblem(
      await ops("PUT", `/v1/products/${id}/allocations`, { regions: { "eu-west": 40 } }),
      409,
      "transfer_in_progress",
    );
    await drive(adminServices(REGIONS).moves, (await ledger.get(inFlight.id))!);
    expect((await ops("PUT", `/v1/products/${id}/allocations`, { regions: { "eu-west": 40 } })).status).toBe(200);
    // The move in flight gave eu-west 5; setting 40 then claimed only the 5 more it lacked.
    expect(await liveUnits(id)).toMatchObject({ unallocated: 0, euWest: { allocation: 40, live: { allocated: 40 } } });
    await expectVerified(id);
  });

  test("creating the same product again carries on (a retry); allocations beyond the total are refused up front", async () => {
    const body = productBody();
    expect((await ops("POST", "/v1/products", body)).status).toBe(201);
    const again = await ops("POST", "/v1/products", body);
    expect(again.status).toBe(201);
    expect(await liveUnits(body.id)).toMatchObject({
      usEast: { live: { allocated: 60 } },
      euWest: { live: { allocated: 30 } },
    });
    await expectProblem(await ops("POST", "/v1/products", productBody({ totalUnits: 50 })), 400, "invalid_request");
  });

  test("rebalancing gives the pool to the regions that sold in the window, in proportion", async () => {
    const id = await newProduct({ totalUnits: 200, allocations: { "us-east": 50, "eu-west": 50 } });
    const sold = [
      ...(await pooled(6, 3, (i) => reserveIn("us-east", id, `r-us-${i}`, 5))),
      ...(await pooled(2, 2, (i) => reserveIn("eu-west", id, `r-eu-${i}`, 5))),
    ];
    await waitForOrders(id, sold);
    const answer = await ops("POST", `/v1/products/${id}/rebalance`);
    expect(answer.status).toBe(200);
    expect(await answer.json()).toMatchObject({
      windowMinutes: 15,
      shares: { "us-east": 75, "eu-west": 25 },
      unallocated: 0,
    });
    expect(await liveUnits(id)).toMatchObject({
      usEast: { allocation: 125, live: { allocated: 125, held: 30 } },
      euWest: { allocation: 75, live: { allocated: 75, held: 10 } },
    });
    await expectProblem(await eu("POST", `/v1/products/${id}/rebalance`), 403, "forbidden");
    await expectVerified(id);
  });

  test("a region token sees its own region's numbers only", async () => {
    const id = await newProduct();
    const view = (await (await eu("GET", `/v1/products/${id}`)).json()) as {
      regions: { region: string }[];
      available: number;
    };
    expect(view.regions.map((r) => r.region)).toEqual(["eu-west"]);
    expect(view.available).toBe(30);
    const stats = (await (await eu("GET", "/v1/stats")).json()) as { regions: { region: string }[] };
    expect(stats.regions.map((r) => r.region)).toEqual(["eu-west"]);
  });

  test("setting every region's allocation at once gives back first, then claims", async () => {
    const id = await newProduct();
    const set = await ops("PUT", `/v1/products/${id}/allocations`, { regions: { "us-east": 20, "eu-west": 80 } });
    expect(set.status).toBe(200);
    const body = (await set.json()) as { transfers: { from: string; to: string; units: number; state: string }[] };
    expect(body.transfers.map((t) => [t.from, t.to, t.units, t.state])).toEqual([
      ["us-east", "pool", 40, "completed"],
      ["pool", "eu-west", 50, "completed"],
    ]);
    expect(await liveUnits(id)).toMatchObject({
      unallocated: 0,
      usEast: { live: { allocated: 20 } },
      euWest: { live: { allocated: 80 } },
    });
    await expectVerified(id);
  });

  test("pause stops the sale in every region and resume restarts it; rule changes reach the cores", async () => {
    const id = await newProduct();
    expect((await ops("POST", `/v1/products/${id}/pause`)).status).toBe(200);
    for (const region of REGIONS) {
      const refused = await coreClient(region).reserve({ userId: "u", productId: id, quantity: 1 });
      expect(((await refused.json()) as { code: string }).code).toBe("sale_paused");
    }
    expect((await ops("POST", `/v1/products/${id}/resume`)).status).toBe(200);
    expect((await ops("PATCH", `/v1/products/${id}`, { maxPerOrder: 1 })).status).toBe(200);
    expect(
      (
        (await (await coreClient("us-east").reserve({ userId: "u", productId: id, quantity: 2 })).json()) as {
          code: string;
        }
      ).code,
    ).toBe("invalid_quantity");
    expect((await coreClient("us-east").reserve({ userId: "u", productId: id, quantity: 1 })).status).toBe(202);
  });

  describe("scopes", () => {
    const cases: [string, () => Response | Promise<Response>, number, string][] = [
      ["no token", () => as(undefined)("GET", "/v1/products"), 401, "unauthenticated"],
      ["an unknown token", () => as("not-a-token-of-ours-at-all")("GET", "/v1/products"), 401, "unauthenticated"],
      [
        "a malformed Authorization header",
        () => app.request("/v1/products", { headers: { Authorization: TOKENS.ops } }),
        401,
        "unauthenticated",
      ],
      ["a region token creating a product", () => eu("POST", "/v1/products", productBody()), 403, "forbidden"],
      ["a region token pausing a sale", () => eu("POST", "/v1/products/any/pause"), 403, "forbidden"],
      [
        "a region token setting all allocations",
        () => eu("PUT", "/v1/products/any/allocations", { regions: { "eu-west": 5 } }),
        403,
        "forbidden",
      ],
      ["an eu-west token viewing us-east", () => eu("GET", "/v1/regions/us-east/products/any"), 403, "forbidden"],
      [
        "an eu-west token claiming into us-east",
        () => eu("POST", "/v1/regions/us-east/products/any/claim", { units: 1 }),
        403,
        "forbidden",
      ],
      [
        "an eu-west token releasing us-east's units",
        () => eu("POST", "/v1/regions/us-east/products/any/release", { units: 1 }),
        403,
        "forbidden",
      ],
      [
        "an eu-west token taking us-east's units",
        () => eu("POST", "/v1/transfers", { productId: "any", from: "us-east", to: "eu-west", units: 1 }),
        403,
        "forbidden",
      ],
      ["an eu-west token reading the audit log", () => eu("GET", "/v1/audit"), 403, "forbidden"],
    ];
    test.each(cases)("%s", async (_, send, status, code) => {
      await expectProblem(await send(), status, code);
    });

    test("a refusal moves nothing, and the audit log names who tried", async () => {
      const id = await newProduct();
      await expectProblem(
        await eu("POST", "/v1/transfers", { productId: id, from: "us-east", to: "eu-west", units: 5 }),
        403,
        "forbidden",
      );
      expect(await liveUnits(id)).toMatchObject({
        usEast: { live: { allocated: 60 } },
        euWest: { live: { allocated: 30 } },
      });
      const [refusal] = await database.db
        .select()
        .from(adminAudit)
        .where(eq(adminAudit.actor, "eu-ops"))
        .orderBy(desc(adminAudit.id))
        .limit(1);
      expect(refusal).toMatchObject({
        action: "POST /v1/transfers",
        status: 403,
        productId: id,
        details: { problem: "forbidden" },
      });
      const log = (await (await ops("GET", "/v1/audit?limit=20")).json()) as {
        entries: { actor: string; action: string; productId: string; status: number }[];
      };
      expect(log.entries).toContainEqual(
        expect.objectContaining({ actor: "ops", action: "POST /v1/products", productId: id, status: 201 }),
      );
    });
  });

  describe("bad input", () => {
    const id = "any-product";
    const cases: [string, () => Response | Promise<Response>, number, string][] = [
      ["a body that is not JSON", () => ops("POST", "/v1/transfers", "{units: 5"), 400, "invalid_request"],
      [
        "an unknown field",
        () => ops("POST", "/v1/transfers", { productId: id, from: "us-east", to: "eu-west", units: 1, price: 3 }),
        400,
        "invalid_request",
      ],
      [
        "zero units",
        () => ops("POST", `/v1/regions/eu-west/products/${id}/claim`, { units: 0 }),
        400,
        "invalid_request",
      ],
      [
        "fractional units",
        () => ops("POST", `/v1/regions/eu-west/products/${id}/release`, { units: 1.5 }),
        400,
        "invalid_request",
      ],
      [
        "a transfer to where it comes from",
        () => ops("POST", "/v1/transfers", { productId: id, from: "eu-west", to: "eu-west", units: 1 }),
        400,
        "invalid_request",
      ],
      [
        "an unknown region in a body",
        () => ops("POST", "/v1/transfers", { productId: id, from: "mars", to: "eu-west", units: 1 }),
        400,
        "invalid_request",
      ],
      [
        "a transfer id that is not a UUID",
        () =>
          ops("POST", "/v1/transfers", { transferId: "7", productId: id, from: "us-east", to: "eu-west", units: 1 }),
        400,
        "invalid_request",
      ],
      ["a negative total", () => ops("POST", "/v1/products", productBody({ totalUnits: -1 })), 400, "invalid_request"],
      [
        "a sale that ends before it starts",
        () => ops("POST", "/v1/products", productBody({ endsAt: new Date(0).toISOString() })),
        400,
        "invalid_request",
      ],
      [
        "a product id with a hash tag",
        () => ops("POST", "/v1/products", productBody({ id: "{us-east:x}" })),
        400,
        "invalid_request",
      ],
      ["an empty update", () => ops("PATCH", `/v1/products/${id}`, {}), 400, "invalid_request"],
      ["an unknown region in the path", () => ops("GET", `/v1/regions/mars/products/${id}`), 404, "not_found"],
      ["an unknown product", () => ops("GET", `/v1/products/${uniqueName("none")}`), 404, "unknown_product"],
      [
        "a product id no product can have (a NUL byte)",
        () => ops("POST", "/v1/products/%00/pause"),
        404,
        "unknown_product",
      ],
      [
        "a NUL byte in a region's product",
        () => ops("POST", "/v1/regions/us-east/products/%00/claim", { units: 1 }),
        404,
        "unknown_product",
      ],
      ["a negative limit", () => ops("GET", "/v1/transfers?limit=-1"), 400, "invalid_request"],
      ["a limit that is not a number", () => ops("GET", "/v1/audit?limit=all"), 400, "invalid_request"],
      [
        "a transfer of an unknown product",
        () => ops("POST", "/v1/transfers", { productId: uniqueName("none"), from: "us-east", to: "eu-west", units: 1 }),
        404,
        "unknown_product",
      ],
      [
        "an oversized body",
        () => ops("POST", "/v1/products", productBody({ name: "x".repeat(20_000) })),
        413,
        "payload_too_large",
      ],
    ];
    test.each(cases)("%s", async (_, send, status, code) => {
      await expectProblem(await send(), status, code);
    });

    test("a product id that exists already is refused and left as it was", async () => {
      const id = await newProduct();
      await expectProblem(
        await ops("POST", "/v1/products", productBody({ id, totalUnits: 95 })),
        409,
        "product_exists",
      );
      const given = await database.db.select().from(allocations).where(eq(allocations.productId, id));
      expect(given.map((a) => a.units).sort()).toEqual([30, 60]);
    });
  });
});
