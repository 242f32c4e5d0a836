/**
 * Property-based fuzzing of the edge's and the admin API's bodies, headers and paths
 * (fast-check, real cores, Redis and PostgreSQL): whatever arrives, the answer is a documented
 * problem (or a success), never a 5xx, and no unit moves but by an accepted order. The admin
 * API's scope matrix: every route, every kind of token. FLUX_GATE_FUZZ_RUNS runs more cases.
 */
import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { PROBLEMS, problemType } from "../../shared/problems.ts";
import { verify } from "../../cli/verify/verify.ts";
import { config } from "../support/helpers.ts";
import { edgeApp, edgeEnv, inProcess } from "../support/edge.ts";
import { adminApp, createProduct, withCoresAndWorkers } from "../support/harness.ts";

const RUNS = Number(process.env.FLUX_GATE_FUZZ_RUNS ?? 400);
const REGIONS = config.regions.map((r) => r.id);

/** Fails the property unless `response` is a success or a documented problem, and not a 5xx. */
async function expectDocumented(response: Response, what: string): Promise<unknown> {
  const text = await response.text();
  const context = `${what} → ${response.status} ${text.slice(0, 300)}`;
  expect(response.status, context).toBeLessThan(500);
  if (response.status < 400) return text.startsWith("{") ? JSON.parse(text) : text;
  expect(response.headers.get("Content-Type"), context).toStartWith("application/problem+json");
  const body = JSON.parse(text) as { code: keyof typeof PROBLEMS; type: string; status: number };
  expect(PROBLEMS[body.code], context).toBeDefined();
  expect([body.type, body.status], context).toEqual([problemType(body.code), PROBLEMS[body.code].status]);
  return body;
}

const text = fc.oneof(
  fc.string(),
  fc.string({ unit: "grapheme" }),
  fc.constantFrom("", " ", "{}", "null", "%", "../", "\u0000", "a".repeat(5_000)),
);
const jsonish = fc.oneof(
  fc.json().map((j) => j),
  text,
  fc.constant(undefined),
);

describe("fuzzing", () => {
  withCoresAndWorkers(REGIONS);

  test("the edge: every answer documented, none a 5xx, and units move only by accepted orders", async () => {
    const productId = await createProduct({
      units: Object.fromEntries(REGIONS.map((r) => [r, 50])),
      perUserLimit: 3,
      maxPerOrder: 2,
    });
    const send = inProcess(edgeApp(edgeEnv({})));
    const accepted = new Map<string, number>();
    const product = fc.oneof(fc.constant(productId), text);
    const order = fc.record(
      {
        productId: product,
        quantity: fc.oneof(fc.integer(), fc.double(), fc.constantFrom(0, 1, 2, 3, -1, 1e20), text, fc.constant(null)),
        extra: jsonish,
      },
      { requiredKeys: [] },
    );
    const path = fc.oneof(
      fc.constant("/v1/orders"),
      fc.oneof(fc.uuid(), text).map((id) => `/v1/orders/${encodeURIComponent(id)}`),
      product.map((id) => `/v1/products/${encodeURIComponent(id)}`),
      fc.array(text, { maxLength: 4 }).map((parts) => `/${parts.map(encodeURIComponent).join("/")}`),
    );
    const headers = fc.record(
      {
        "X-User-Id": fc.oneof(fc.constantFrom("fuzz-a", "fuzz-b"), text),
        "Idempotency-Key": fc.oneof(fc.uuid(), text),
        "Content-Type": fc.constantFrom("application/json", "text/plain", "application/json; charset=utf-16", ""),
        Authorization: fc.oneof(fc.constant("Bearer x.y.z"), text),
        "X-Forwarded-For": text,
        "Content-Length": fc.constantFrom("0", "-1", "99999999"),
      },
      { requiredKeys: [] },
    );
    const request = fc.record({
      method: fc.constantFrom("GET", "POST", "POST", "DELETE", "PUT", "PATCH", "OPTIONS"),
      path,
      headers,
      body: fc.oneof(
        order.map((o) => JSON.stringify(o)),
        jsonish.map((j) => (j === undefined ? undefined : JSON.stringify(j))),
        text,
      ),
    });

    await fc.assert(
      fc.asyncProperty(request, async ({ method, path, headers, body }) => {
        const withBody = method !== "GET" && method !== "OPTIONS" ? body : undefined;
        const safeHeaders = Object.fromEntries(Object.entries(headers).filter(([, v]) => /^[\t\x20-\x7e]*$/.test(v)));
        let response: Response;
        try {
          response = await send(path, { method, headers: safeHeaders, body: withBody });
        } catch (error) {
          // Request itself could not be built (a path the URL parser rejects): nothing reached the edge.
          if (error instanceof TypeError) return;
          throw error;
        }
        const answer = (await expectDocumented(
          response,
          `${method} ${path} ${JSON.stringify(safeHeaders)} ${String(withBody).slice(0, 200)}`,
        )) as { orderId?: string; quantity?: number; status?: string };
        if (method === "POST" && path === "/v1/orders" && response.status === 202 && answer.orderId)
          accepted.set(answer.orderId, answer.quantity ?? 0);
      }),
      { numRuns: RUNS },
    );

    const stock = (await (await send(`/v1/products/${productId}`)).json()) as {
      regions: Record<string, { available: number; held: number; sold: number }>;
    };
    const available = Object.values(stock.regions).reduce((sum, r) => sum + r.available, 0);
    const taken = [...accepted.values()].reduce((a, b) => a + b, 0);
    expect(available + taken).toBe(50 * REGIONS.length);
  }, 120_000);

  describe("the admin API", () => {
    const TOKENS = {
      global: "fuzz-global-token-0123456789",
      own: "fuzz-us-east-token-0123456789",
      other: "fuzz-eu-west-token-0123456789",
    };
    const { app } = adminApp(REGIONS, [
      { name: "global", scopes: ["global"], token: TOKENS.global },
      { name: "us-east", scopes: ["region:us-east"], token: TOKENS.own },
      { name: "eu-west", scopes: ["region:eu-west"], token: TOKENS.other },
    ]);
    const call = (method: string, path: string, token: string | undefined, body?: string) =>
      app.request(path, {
        method,
        headers: { ...(token ? { Authorization: `Bearer ${token}` } : {}), "Content-Type": "application/json" },
        body,
      });

    test("bodies, paths and tokens: every answer documented, none a 5xx, every unit still accounted for", async () => {
      const productId = await createProduct({ units: { "us-east": 20, "eu-west": 20 }, pool: 10 });
      const id = fc.oneof(fc.constant(productId), text);
      const route = fc.oneof(
        fc.constantFrom("/v1/products", "/v1/transfers", "/v1/audit", "/v1/stats", "/v1/me"),
        id.map((p) => `/v1/products/${encodeURIComponent(p)}`),
        fc
          .tuple(id, fc.constantFrom("pause", "resume", "allocations", "rebalance"))
          .map(([p, a]) => `/v1/products/${encodeURIComponent(p)}/${a}`),
        fc
          .tuple(fc.oneof(fc.constantFrom(...REGIONS), text), id, fc.constantFrom("claim", "release", ""))
          .map(
            ([r, p, a]) => `/v1/regions/${encodeURIComponent(r)}/products/${encodeURIComponent(p)}${a ? `/${a}` : ""}`,
          ),
        fc.oneof(fc.uuid(), text).map((t) => `/v1/transfers/${encodeURIComponent(t)}`),
      );
      // Bodies shaped like the API's, with every field fuzzed: deep enough to reach the checks past parsing.
      const number = fc.oneof(fc.integer(), fc.double(), fc.constantFrom(0, 1, -1, 1e12), text);
      const shaped = fc.record(
        {
          units: number,
          regions: fc.dictionary(fc.oneof(fc.constantFrom(...REGIONS), text), number),
          productId: id,
          from: fc.constantFrom(...REGIONS),
          to: fc.constantFrom(...REGIONS),
          totalUnits: number,
          name: text,
          window: number,
          paused: fc.boolean(),
        },
        { requiredKeys: [] },
      );
      const body = fc.oneof(
        shaped.map((b) => JSON.stringify(b)),
        jsonish.map((j) => (j === undefined ? undefined : JSON.stringify(j))),
        text,
      );
      const token = fc.constantFrom(TOKENS.global, TOKENS.own, TOKENS.other, undefined, "not-a-token");

      await fc.assert(
        fc.asyncProperty(
          fc.constantFrom("GET", "POST", "PUT", "PATCH", "DELETE"),
          route,
          token,
          body,
          async (method, path, bearer, payload) => {
            const response = await call(method, path, bearer, method === "GET" ? undefined : payload);
            await expectDocumented(response, `${method} ${path} ${payload?.slice(0, 200)}`);
          },
        ),
        { numRuns: RUNS },
      );
      const result = await verify(config, { productIds: [productId], settleMs: 5_000 });
      expect(result.drifts).toEqual([]);
    }, 180_000);

    // Each route with each kind of token: none (401), a region token outside its reach (403), and
    // a token that reaches it (past the scope check: any answer but 401 or 403).
    const ANY = "matrix-product";
    // Every row has a body (null: none): bun takes a callback parameter past a row's end as `done`.
    const routes: [string, string, { global: boolean; own: boolean; other: boolean }, unknown][] = [
      ["GET", "/v1/me", { global: true, own: true, other: true }, null],
      ["GET", "/v1/stats", { global: true, own: true, other: true }, null],
      ["GET", "/v1/products", { global: true, own: true, other: true }, null],
      ["GET", `/v1/products/${ANY}`, { global: true, own: true, other: true }, null],
      ["POST", "/v1/products", { global: true, own: false, other: false }, { id: ANY }],
      ["PATCH", `/v1/products/${ANY}`, { global: true, own: false, other: false }, { name: "x" }],
      ["POST", `/v1/products/${ANY}/pause`, { global: true, own: false, other: false }, null],
      ["POST", `/v1/products/${ANY}/resume`, { global: true, own: false, other: false }, null],
      [
        "PUT",
        `/v1/products/${ANY}/allocations`,
        { global: true, own: false, other: false },
        { regions: { "us-east": 1 } },
      ],
      ["POST", `/v1/products/${ANY}/rebalance`, { global: true, own: false, other: false }, {}],
      ["GET", `/v1/regions/us-east/products/${ANY}`, { global: true, own: true, other: false }, null],
      ["POST", `/v1/regions/us-east/products/${ANY}/claim`, { global: true, own: true, other: false }, { units: 1 }],
      ["POST", `/v1/regions/us-east/products/${ANY}/release`, { global: true, own: true, other: false }, { units: 1 }],
      [
        "POST",
        "/v1/transfers",
        { global: true, own: true, other: false },
        { productId: ANY, from: "us-east", to: "eu-west", units: 1 },
      ],
      ["GET", "/v1/transfers", { global: true, own: true, other: true }, null],
      ["GET", "/v1/audit", { global: true, own: false, other: false }, null],
    ];
    test.each(routes)("scope matrix: %s %s", async (method, path, reaches, payload) => {
      const body = payload === null ? undefined : JSON.stringify(payload);
      expect((await call(method, path, undefined, body)).status).toBe(401);
      expect((await call(method, path, "not-a-token", body)).status).toBe(401);
      for (const kind of ["global", "own", "other"] as const) {
        const status = (await call(method, path, TOKENS[kind], body)).status;
        if (reaches[kind]) expect([401, 403], `${kind} token`).not.toContain(status);
        else expect(status, `${kind} token`).toBe(403);
      }
    });
  });
});
