/**
 * Attacks on the edge's trust in what a client sends (issue 11), each a test that the edge
 * before it failed: tokens that never expire or were minted for another service, a per-IP limit
 * dodged with made-up X-Forwarded-For addresses, and a flood of unknown product ids fanning out
 * to every core.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { SignJWT } from "jose";
import { ConfigError, loadConfig, regionVariable } from "../../shared/config.ts";
import { problem, problemResponse } from "../../shared/problems.ts";
import { readSamples } from "../../shared/metrics.ts";
import { config, uniqueName } from "../support/helpers.ts";
import { edgeApp, edgeEnv, inProcess, order } from "../support/edge.ts";
import { backgroundWork } from "../../edge/background.ts";
import { peerOnDemand } from "../../edge/client-address.ts";
import { createProduct, testRegion, withCoresAndWorkers } from "../support/harness.ts";

const regionIds = config.regions.map((r) => r.id);
// Redis over RESP: no Redis REST adapters needed.
const env = edgeEnv({});

describe("the edge under attack", () => {
  withCoresAndWorkers(regionIds);

  describe("identity", () => {
    const secret = "security-test-jwt-secret-of-32-bytes+";
    const send = inProcess(
      edgeApp({
        ...env,
        FLUX_GATE_DEV_IDENTITY: undefined,
        FLUX_GATE_JWT_SECRET: secret,
        FLUX_GATE_JWT_AUDIENCE: "flux-gate",
        FLUX_GATE_JWT_ISSUER: "https://id.example",
      }),
    );
    const now = () => Math.floor(Date.now() / 1000);
    const token = (claims: Record<string, unknown>) =>
      new SignJWT({ sub: "zoe", aud: "flux-gate", iss: "https://id.example", exp: now() + 60, ...claims })
        .setProtectedHeader({ alg: "HS256" })
        .sign(new TextEncoder().encode(secret));
    const lookup = async (claims: Record<string, unknown>) =>
      (await send(`/v1/orders/${crypto.randomUUID()}`, { headers: { Authorization: `Bearer ${await token(claims)}` } }))
        .status;

    test("a token for this service from its issuer is taken (404: no such order), also just past its expiry within the clock leeway", async () => {
      expect(await lookup({})).toBe(404);
      expect(await lookup({ exp: now() - 10 })).toBe(404);
    });

    test.each([
      ["without exp", { exp: undefined }],
      ["expired a minute ago", { exp: now() - 60 }],
      ["for another service", { aud: "billing" }],
      ["without an audience", { aud: undefined }],
      ["from another issuer", { iss: "https://evil.example" }],
    ])("a token %s is 401", async (_, claims) => {
      expect(await lookup(claims)).toBe(401);
    });

    test("production refuses a short JWT secret, and a JWKS without an audience and an issuer, naming them", () => {
      const production = { ...env, FLUX_GATE_ENV: "production", FLUX_GATE_DEV_IDENTITY: undefined };
      expect(() => loadConfig({ ...production, FLUX_GATE_JWT_SECRET: "short" })).toThrow(
        new ConfigError("FLUX_GATE_JWT_SECRET must be at least 32 bytes in production"),
      );
      expect(() =>
        loadConfig({
          ...production,
          FLUX_GATE_JWKS_URL: "https://id.example/jwks.json",
          FLUX_GATE_JWT_ISSUER: "https://id.example",
        }),
      ).toThrow("FLUX_GATE_JWT_AUDIENCE must be set in production with FLUX_GATE_JWKS_URL");
    });
  });

  describe("the client's address", () => {
    test("200 requests with 200 made-up X-Forwarded-For addresses from one socket share one window", async () => {
      // A window far longer than the test (no window's end to straddle), an address no earlier run used.
      const app = edgeApp({ ...env, FLUX_GATE_RATE_LIMIT_IP: "5/600s" });
      const socket = `2001:db8::${crypto.randomUUID().slice(0, 4)}:${crypto.randomUUID().slice(0, 4)}`;
      let limited = 0;
      for (let i = 0; i < 200; i++) {
        const response = await app.request(
          `/v1/products/${uniqueName("any")}`,
          { headers: { "X-Forwarded-For": `192.0.2.${i % 250}` } },
          { clientAddress: socket },
        );
        if (response.status === 429) limited++;
      }
      expect(limited).toBe(195);
    });

    test("the socket's peer is read once a request, before its first wait: a client that hangs up cannot leave its window", async () => {
      const app = edgeApp({ ...env, FLUX_GATE_RATE_LIMIT_IP: "5/600s" });
      const socket = `2001:db8::${crypto.randomUUID().slice(0, 4)}:${crypto.randomUUID().slice(0, 4)}`;
      const reads: boolean[] = [];
      const statuses: number[] = [];
      for (let i = 0; i < 6; i++) {
        let synchronous = true;
        const peer = peerOnDemand(() => {
          reads.push(synchronous);
          return socket;
        });
        const pending = app.fetch(
          new Request(`http://edge/v1/products/${uniqueName("any")}`),
          peer,
          backgroundWork().context,
        );
        synchronous = false;
        statuses.push((await pending).status);
      }
      // Once a request (the limit names the peer twice: its home and its window), and each time
      // within app.fetch's own call, before any reply from Redis.
      expect(reads).toEqual(Array(6).fill(true));
      expect(statuses.at(-1)).toBe(429);
    });
  });

  describe("a core that refuses the edge itself", () => {
    // A 401 or 403 between edge and core is about the edge (its secret, its clock, a proxy in
    // between), not the buyer: answered 503 and never kept as the key's answer. A proxy in front
    // of each core passes everything on but refuses reservations with `refusing`'s status.
    let refusing = 0;
    const proxies = regionIds.map((id) =>
      Bun.serve({
        port: 0,
        hostname: "127.0.0.1",
        fetch: (request) => {
          const url = new URL(request.url);
          if (request.method === "POST" && url.pathname === "/v1/reservations") {
            return problemResponse(
              problem(refusing === 401 ? "unauthorized" : "forbidden", "refused in front of the core"),
            );
          }
          return fetch(`${testRegion(id).coreUrl}${url.pathname}${url.search}`, {
            method: request.method,
            headers: request.headers,
            body: request.body,
          });
        },
      }),
    );
    afterAll(() => {
      for (const proxy of proxies) proxy.stop(true);
    });
    const throughProxies = Object.fromEntries(
      regionIds.map((id, i) => [regionVariable("CORE_URL", id), `http://127.0.0.1:${proxies[i]!.port}`]),
    );

    test.each([401, 403])("a %d is a 503, and the same key later reserves", async (status) => {
      refusing = status;
      const productId = await createProduct({ units: Object.fromEntries(regionIds.map((id) => [id, 5])) });
      const attempt = { user: uniqueName("buyer"), key: crypto.randomUUID(), body: { productId, quantity: 1 } };
      const refused = await order(inProcess(edgeApp({ ...env, ...throughProxies })), attempt);
      expect([refused.status, ((await refused.json()) as { code: string }).code]).toEqual([503, "unavailable"]);
      let retried = await order(inProcess(edgeApp(env)), attempt);
      // The completion of the first try runs in the background: until it lands the key is in use.
      for (let i = 0; i < 20 && retried.status === 409; i++) {
        await Bun.sleep(100);
        retried = await order(inProcess(edgeApp(env)), attempt);
      }
      expect(retried.status).toBe(202);
    });
  });

  describe("unknown products", () => {
    /** Product lookups the cores answered, all regions together. */
    const productAsks = async () => {
      const counts = await Promise.all(
        regionIds.map(async (id) => {
          const samples = readSamples(await (await fetch(`${testRegion(id).coreUrl}/metrics`)).text());
          return samples
            .filter(
              (s) =>
                s.name === "flux_gate_http_request_duration_seconds_count" && s.labels.route === "/v1/products/:id",
            )
            .reduce((n, s) => n + s.value, 0);
        }),
      );
      return counts.reduce((a, b) => a + b, 0);
    };

    test("asked for again within a few seconds, are answered by the edge without asking the cores", async () => {
      const send = inProcess(edgeApp(env));
      const id = uniqueName("nowhere");
      const before = await productAsks();
      for (let i = 0; i < 5; i++) {
        const response = await send(`/v1/products/${id}`);
        expect(response.status).toBe(404);
        expect(await response.json()).toMatchObject({ code: "unknown_product" });
      }
      expect(await productAsks()).toBe(before + regionIds.length);
    });

    test("one buyer's orders for made-up products count against the buyer's limit before any core is asked", async () => {
      const send = inProcess(edgeApp({ ...env, FLUX_GATE_RATE_LIMIT_USER: "20/10s" }));
      const user = uniqueName("flooder");
      const before = await productAsks();
      const answers = await Promise.all(
        Array.from({ length: 400 }, () =>
          order(send, { user, key: uniqueName("k"), body: { productId: uniqueName("made-up"), quantity: 1 } }),
        ),
      );
      const statuses = answers.map((a) => a.status);
      expect(statuses.filter((s) => s === 404).length).toBe(20);
      expect(statuses.filter((s) => s === 429).length).toBe(380);
      expect(await productAsks()).toBe(before + 20 * regionIds.length);
      // The window is spent: the buyer's next order, for a real product, is refused too.
      const productId = await createProduct({ units: { [regionIds[0]!]: 5 } });
      const next = await order(send, { user, key: uniqueName("k"), body: { productId, quantity: 1 } });
      expect(next.status).toBe(429);
    });
  });

  test("a ticket's looks and orders count against the ticket's own limit", async () => {
    const send = inProcess(edgeApp({ ...env, FLUX_GATE_RATE_LIMIT_TICKET: "3/10s" }));
    const productId = await createProduct({ units: { [regionIds[0]!]: 10 }, room: { mode: "queue", rate: 1 } });
    const tickets: string[] = [];
    for (let i = 0; tickets.length === 0 && i < 5; i++) {
      const answer = (await (
        await order(send, {
          user: uniqueName("looker"),
          key: uniqueName("k"),
          body: { productId, quantity: 1 },
          headers: { "X-Region": regionIds[0]! },
        })
      ).json()) as { ticket?: string };
      if (answer.ticket) tickets.push(answer.ticket);
    }
    const looks = [];
    for (let i = 0; i < 4; i++) looks.push((await send(`/v1/queue/${tickets[0]}`)).status);
    expect(looks).toEqual([200, 200, 200, 429]);
    const ordered = await send(`/v1/queue/${tickets[0]}/order`, {
      method: "POST",
      headers: { Accept: "application/json" },
    });
    expect(ordered.status).toBe(429);
    expect(await ordered.json()).toMatchObject({ code: "rate_limited" });
  });
});
