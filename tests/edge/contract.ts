/**
 * What every edge must do, whatever runs it: the same tests against the app in-process and
 * over HTTP on Bun, Deno and workerd (wrangler dev). Needs cores and workers running.
 */
import { describe, expect, test } from "bun:test";
import { config, uniqueName } from "../support/helpers.ts";
import { createProduct, waitForOrders } from "../support/harness.ts";
import { order, stockIn, type Send } from "../support/edge.ts";

const [home, away] = [config.regions[0]!.id, config.regions[1]!.id];

export interface ContractOptions {
  /** Set where the runtime supplies `request.cf.country` (Workers): it wins over any header. */
  cfCountry?: string;
}

export function edgeContract(send: Send, { cfCountry }: ContractOptions = {}) {
  describe("placing an order", () => {
    test("202 from the nearest region, and the order reaches PostgreSQL", async () => {
      const productId = await createProduct({ units: { [home]: 10, [away]: 10 } });
      const response = await order(send, {
        user: "ada",
        key: uniqueName("k"),
        body: { productId, quantity: 2 },
        headers: { "X-Region": home },
      });
      expect(response.status).toBe(202);
      expect(response.headers.get("x-request-id")).toBeTruthy();
      const body = (await response.json()) as { orderId: string };
      expect(body).toMatchObject({ region: home, originRegion: home, status: "reserved" });
      const rows = await waitForOrders(productId, [body.orderId], 30_000);
      expect(rows).toHaveLength(1);
      expect(rows[0]).toMatchObject({ id: body.orderId, userId: "ada", quantity: 2, region: home });

      const seen = await send(`/v1/orders/${body.orderId}`, { headers: { "X-User-Id": "ada" } });
      expect(await seen.json()).toMatchObject({ orderId: body.orderId, status: "reserved" });
      expect((await send(`/v1/orders/${body.orderId}`, { headers: { "X-User-Id": "eve" } })).status).toBe(404);
    });

    test(
      cfCountry
        ? `the region follows request.cf.country (${cfCountry}), not a client's CF-IPCountry header (US)`
        : "the country picks the region: a German buyer is served from eu-west",
      async () => {
        const productId = await createProduct({ units: { "us-east": 5, "eu-west": 5 } });
        // Where the runtime knows the country, the header a client writes says otherwise.
        const response = await order(send, {
          user: "jan",
          key: uniqueName("k"),
          body: { productId, quantity: 1 },
          headers: { "CF-IPCountry": cfCountry ? "US" : "DE" },
        });
        const expected = (cfCountry ?? "DE") === "US" ? "us-east" : "eu-west";
        expect(await response.json()).toMatchObject({ region: expected, originRegion: expected });
      },
    );

    test("cancel returns the units", async () => {
      const productId = await createProduct({ units: { [home]: 4 } });
      const placed = (await (
        await order(send, {
          user: "cy",
          key: uniqueName("k"),
          body: { productId, quantity: 3 },
          headers: { "X-Region": home },
        })
      ).json()) as { orderId: string };
      const cancelled = await send(`/v1/orders/${placed.orderId}/cancel`, {
        method: "POST",
        headers: { "X-User-Id": "cy" },
      });
      expect(await cancelled.json()).toMatchObject({ orderId: placed.orderId, status: "cancelled" });
      expect(await stockIn(send, home, productId)).toBe(4);
    });

    test("the per-user limit counts every region: a second region refuses what the first used up", async () => {
      const productId = await createProduct({ units: { [home]: 10, [away]: 10 }, perUserLimit: 2 });
      const user = uniqueName("limited");
      const buy = (region: string) =>
        order(send, { user, key: uniqueName("k"), body: { productId, quantity: 1 }, headers: { "X-Region": region } });
      expect((await buy(home)).status).toBe(202);
      expect((await buy(away)).status).toBe(202);
      const third = await buy(away);
      expect(third.status).toBe(409);
      expect(await third.json()).toMatchObject({ code: "user_limit_exceeded" });
      expect(await stockIn(send, away, productId)).toBe(9);
    });

    test("sold out in the nearest region: the next region serves, with the origin kept", async () => {
      const productId = await createProduct({ units: { [home]: 1, [away]: 5 } });
      await order(send, {
        user: "gus",
        key: uniqueName("k"),
        body: { productId, quantity: 1 },
        headers: { "X-Region": home },
      });
      const spilled = await order(send, {
        user: "hal",
        key: uniqueName("k"),
        body: { productId, quantity: 2 },
        headers: { "X-Region": home },
      });
      const body = (await spilled.json()) as { orderId: string };
      expect(body).toMatchObject({ region: away, originRegion: home });
      const rows = await waitForOrders(productId, [body.orderId], 30_000);
      expect(rows.find((r) => r.id === body.orderId)).toMatchObject({
        region: away,
        originRegion: home,
        userId: "hal",
      });
    });
  });

  describe("idempotency", () => {
    test("50 concurrent requests with one key: one reservation, one fresh 202, the rest 409 or replays", async () => {
      const productId = await createProduct({ units: { [home]: 100 } });
      const key = uniqueName("same");
      const answers = await Promise.all(
        Array.from({ length: 50 }, async () => {
          const r = await order(send, {
            user: "bo",
            key,
            body: { productId, quantity: 2 },
            headers: { "X-Region": home },
          });
          return {
            status: r.status,
            replayed: r.headers.get("idempotent-replayed"),
            body: (await r.json()) as { orderId?: string },
          };
        }),
      );
      const fresh = answers.filter((a) => a.status === 202 && a.replayed !== "true");
      expect(fresh).toHaveLength(1);
      expect(
        answers.every((a) => a.status === 409 || (a.status === 202 && a.body.orderId === fresh[0]!.body.orderId)),
      ).toBe(true);
      expect(await stockIn(send, home, productId)).toBe(98);
    });

    test("the same key with another body is 422, and reserves nothing more", async () => {
      const productId = await createProduct({ units: { [home]: 10 } });
      const key = uniqueName("k");
      expect(
        (await order(send, { user: "di", key, body: { productId, quantity: 1 }, headers: { "X-Region": home } }))
          .status,
      ).toBe(202);
      const other = await order(send, {
        user: "di",
        key,
        body: { productId, quantity: 2 },
        headers: { "X-Region": home },
      });
      expect(other.status).toBe(422);
      expect(await other.json()).toMatchObject({ code: "idempotency_key_reused" });
      expect(await stockIn(send, home, productId)).toBe(9);
    });

    test("keys are per client: another user's same key is a new order", async () => {
      const productId = await createProduct({ units: { [home]: 10 } });
      const key = uniqueName("k");
      const a = (await (
        await order(send, { user: "u-a", key, body: { productId, quantity: 1 }, headers: { "X-Region": home } })
      ).json()) as { orderId: string };
      const b = (await (
        await order(send, { user: "u-b", key, body: { productId, quantity: 1 }, headers: { "X-Region": home } })
      ).json()) as { orderId: string };
      expect(a.orderId).not.toBe(b.orderId);
    });

    test("a product with a waiting room: beyond its rate a ticket, its place, then its order once admitted; a browser is sent to the room's page", async () => {
      const productId = await createProduct({ units: { [home]: 10 }, room: { mode: "queue", rate: 1 } });
      const buy = (user: string) =>
        order(send, { user, key: uniqueName("k"), body: { productId, quantity: 1 }, headers: { "X-Region": home } });
      const answers = await Promise.all([buy("room-a"), buy("room-b"), buy("room-c")]);
      const bodies = (await Promise.all(answers.map((a) => a.json()))) as {
        ticket?: string;
        orderId?: string;
        links: { status: string; order: string; page: string };
      }[];
      const queued = bodies.filter((b) => b.ticket);
      expect(queued.length).toBeGreaterThanOrEqual(1);
      const browser = await send("/v1/orders", {
        method: "POST",
        redirect: "manual",
        headers: {
          "Content-Type": "application/json",
          Accept: "text/html,application/xhtml+xml",
          "X-User-Id": "room-d",
          "X-Region": home,
          "Idempotency-Key": uniqueName("k"),
        },
        body: JSON.stringify({ productId, quantity: 1 }),
      });
      expect(browser.status).toBe(303);
      expect(browser.headers.get("location")).toStartWith("/queue/");
      const page = await send(browser.headers.get("location")!);
      expect(page.headers.get("content-type")).toContain("text/html");

      const ticket = queued[0]!;
      let state = "";
      for (let i = 0; i < 100 && state !== "admitted"; i++) {
        state = ((await (await send(ticket.links.status)).json()) as { state: string }).state;
        if (state !== "admitted") await new Promise((r) => setTimeout(r, 100));
      }
      expect(state).toBe("admitted");
      const placed = await send(ticket.links.order, { method: "POST" });
      expect(placed.status).toBe(202);
      expect(await placed.json()).toMatchObject({ status: "reserved", region: home });
    });

    test("no key is 400", async () => {
      const response = await order(send, { user: "fay", body: { productId: "x", quantity: 1 } });
      expect(response.status).toBe(400);
      expect(await response.json()).toMatchObject({ code: "idempotency_key_missing" });
    });
  });

  describe("bad input gets the documented error and reserves nothing", () => {
    const attempt = (productId: string, init: { body?: string; headers?: Record<string, string> }) =>
      send("/v1/orders", {
        method: "POST",
        headers: {
          "Content-Type": "application/json",
          "X-User-Id": "fuzz",
          "X-Region": home,
          "Idempotency-Key": uniqueName("k"),
          ...init.headers,
        },
        body: init.body ?? JSON.stringify({ productId, quantity: 1 }),
      });
    const cases: [string, (p: string) => Promise<Response>, number, string][] = [
      ["malformed JSON", (p) => attempt(p, { body: "{oops" }), 400, "invalid_request"],
      ["a missing field", (p) => attempt(p, { body: JSON.stringify({ productId: p }) }), 400, "invalid_request"],
      [
        "a user id in the body",
        (p) => attempt(p, { body: JSON.stringify({ productId: p, quantity: 1, userId: "victim" }) }),
        400,
        "invalid_request",
      ],
      [
        "a product id far too long",
        (p) => attempt(p, { body: JSON.stringify({ productId: "p".repeat(300), quantity: 1 }) }),
        400,
        "invalid_request",
      ],
      [
        "a string quantity",
        (p) => attempt(p, { body: JSON.stringify({ productId: p, quantity: "1" }) }),
        400,
        "invalid_request",
      ],
      [
        "a zero quantity",
        (p) => attempt(p, { body: JSON.stringify({ productId: p, quantity: 0 }) }),
        422,
        "invalid_quantity",
      ],
      [
        "a negative quantity",
        (p) => attempt(p, { body: JSON.stringify({ productId: p, quantity: -5 }) }),
        422,
        "invalid_quantity",
      ],
      [
        "a huge body",
        (p) => attempt(p, { body: JSON.stringify({ productId: p, quantity: 1, pad: "x".repeat(100_000) }) }),
        413,
        "payload_too_large",
      ],
      [
        "an Idempotency-Key with spaces",
        (p) => attempt(p, { headers: { "Idempotency-Key": "a b" } }),
        400,
        "invalid_request",
      ],
      [
        "a user id that tries to reach into keys",
        (p) => attempt(p, { headers: { "X-User-Id": "a}b{c d" } }),
        401,
        "unauthenticated",
      ],
      [
        "a bearer token where none is expected",
        (p) => attempt(p, { headers: { "X-User-Id": "", Authorization: "Bearer x" } }),
        401,
        "unauthenticated",
      ],
    ];
    test.each(cases)("%s", async (_, badRequest, status, code) => {
      const productId = await createProduct({ units: { [home]: 10 } });
      const response = await badRequest(productId);
      expect(response.status).toBe(status);
      expect(response.headers.get("content-type")).toBe("application/problem+json");
      expect(response.headers.get("x-request-id")).toBeTruthy();
      expect(await response.json()).toMatchObject({ status, code });
      expect(await stockIn(send, home, productId)).toBe(10);
    });
  });

  test("/ready answers once every region's Redis does", async () => {
    const response = await send("/ready");
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ status: "ready", redis: { "us-east": true, "eu-west": true } });
  });

  test("the OpenAPI document describes the public API", async () => {
    const doc = (await (await send("/openapi.json")).json()) as { paths: Record<string, unknown> };
    expect(Object.keys(doc.paths).sort()).toEqual([
      "/v1/orders",
      "/v1/orders/{id}",
      "/v1/orders/{id}/cancel",
      "/v1/products/{id}",
      "/v1/queue/{ticket}",
      "/v1/queue/{ticket}/order",
    ]);
  });
}
