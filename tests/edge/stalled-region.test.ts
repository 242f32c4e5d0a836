/**
 * A region that stalls costs its own buyers a fast 503 and nobody else anything, and an order
 * it may hold is never reserved in a second region, whatever room, X-Region or country now
 * points elsewhere (issue 24, scenes 1 and 2). Real cores (one stopped with SIGSTOP), workers,
 * Redis, Kafka and PostgreSQL.
 */
import { describe, expect, test } from "bun:test";
import { deriveOrderId } from "../../edge/order-id.ts";
import { regionVariable } from "../../shared/config.ts";
import { rendezvousHome } from "../../shared/home-region.ts";
import { verify } from "../../cli/verify/verify.ts";
import { waitUntil } from "../../stack/process.ts";
import { config, uniqueName } from "../support/helpers.ts";
import { createProduct, ordersOf, withCoresAndWorkers } from "../support/harness.ts";
import { blackhole, edgeApp, edgeEnv, inProcess, order, stockIn, type Send } from "../support/edge.ts";

const regionIds = config.regions.map((r) => r.id);
const [east, west] = regionIds as [string, string];
// Redis over RESP; a short core deadline keeps the stalls short.
const env = edgeEnv({}, { FLUX_GATE_CORE_TIMEOUT_MS: "500" });
const send = inProcess(edgeApp(env));

function userHomedIn(region: string, prefix: string): string {
  for (;;) {
    const user = uniqueName(prefix);
    if (rendezvousHome(user, regionIds) === region) return user;
  }
}

const placed = async (response: Response) => ({
  status: response.status,
  body: (await response.json()) as Record<string, unknown>,
});

async function expectClean(productId: string) {
  const result = await verify(config, { productIds: [productId], settleMs: 30_000 });
  expect(result.drifts).toEqual([]);
}

describe("a region that stalls", () => {
  const { cores } = withCoresAndWorkers(regionIds);

  test.each([
    ["a room's product, retried with X-Region naming the other region", { mode: "queue", rate: 50 } as const, west],
    ["a room's product, retried where the first try went", { mode: "queue", rate: 50 } as const, east],
    ["a product without a room, retried with X-Region naming the other region", undefined, west],
  ])(
    "%s: the retry goes to the region that may hold the order, and it is reserved there only",
    async (_, room, retryFrom) => {
      const productId = await createProduct({ units: { [east]: 1, [west]: 5 }, perUserLimit: 1, room });
      const user = uniqueName("stalled");
      const key = uniqueName("k");
      const buy = (region: string, edge: Send = send) =>
        order(edge, { user, key, body: { productId, quantity: 1 }, headers: { "X-Region": region } });
      expect(await stockIn(send, west, productId)).toBe(5);

      const core = cores.get(east)!;
      process.kill(core.pid, "SIGSTOP");
      let first: Awaited<ReturnType<typeof placed>>;
      try {
        first = await placed(await buy(east));
      } finally {
        process.kill(core.pid, "SIGCONT");
      }
      expect(first).toMatchObject({ status: 503, body: { code: "unavailable" } });
      // The core takes the request it had queued while stopped: us-east's last unit is this order's.
      expect(await waitUntil(async () => (await stockIn(send, east, productId)) === 0, 10_000, 200)).toBe(true);

      // Another edge (it knows nothing of the first try) gets the same retry.
      const retry = await placed(await buy(retryFrom, inProcess(edgeApp(env))));
      expect(retry).toMatchObject({
        status: 202,
        body: { region: east, orderId: deriveOrderId(config.edge.orderIdSecret, user, key) },
      });
      expect(await stockIn(send, west, productId)).toBe(5);
      await waitUntil(async () => (await ordersOf(productId)).length === 1, 30_000, 200);
      expect(await ordersOf(productId)).toMatchObject([{ region: east, userId: user }]);
      await expectClean(productId);
    },
    60_000,
  );

  test("while the region that may hold the order does not answer, no other region reserves it: 503 until it settles", async () => {
    const productId = await createProduct({
      units: { [east]: 5, [west]: 5 },
      perUserLimit: 1,
      room: { mode: "queue", rate: 50 },
    });
    const user = uniqueName("unsettled");
    const key = uniqueName("k");
    const buy = (region: string) =>
      order(send, { user, key, body: { productId, quantity: 1 }, headers: { "X-Region": region } });
    expect(await stockIn(send, west, productId)).toBe(5);
    const core = cores.get(east)!;
    process.kill(core.pid, "SIGSTOP");
    try {
      expect(await placed(await buy(east))).toMatchObject({ status: 503, body: { code: "unavailable" } });
      for (const region of [west, east])
        expect(await placed(await buy(region))).toMatchObject({ status: 503, body: { code: "unavailable" } });
    } finally {
      process.kill(core.pid, "SIGCONT");
    }
    const settled = await placed(await buy(west));
    expect(settled).toMatchObject({ status: 202, body: { region: east } });
    expect(await stockIn(send, west, productId)).toBe(5);
    await waitUntil(async () => (await ordersOf(productId)).length === 1, 30_000, 200);
    await expectClean(productId);
  }, 60_000);

  test("buyers homed and served elsewhere get their usual answers at once: sale terms and availability wait for no stalled region", async () => {
    const stalled = await blackhole();
    try {
      const edge = inProcess(
        edgeApp({
          ...env,
          [regionVariable("CORE_URL", east)]: `http://127.0.0.1:${stalled.port}`,
          FLUX_GATE_CORE_TIMEOUT_MS: "2000",
        }),
      );
      const productId = await createProduct({ units: { [east]: 10, [west]: 20 } });
      const timed = async (user: string, region: string) => {
        const t0 = performance.now();
        const answer = await placed(
          await order(edge, {
            user,
            key: uniqueName("k"),
            body: { productId, quantity: 1 },
            headers: { "X-Region": region },
          }),
        );
        return { ...answer, ms: performance.now() - t0 };
      };
      // The first to ask about the product prefers the stalled region; the others come right after.
      const eastern = timed(userHomedIn(east, "east"), east);
      await Bun.sleep(20);
      const western = await Promise.all(
        Array.from({ length: 16 }, (_, i) => timed(userHomedIn(west, `west-${i}`), west)),
      );
      for (const w of western) {
        expect(w).toMatchObject({ status: 202, body: { region: west } });
        // Healthy, an order takes milliseconds; waiting on the stalled region would take its 2 s deadline.
        expect(w.ms).toBeLessThan(1_000);
      }
      expect(await eastern).toMatchObject({ status: 503, body: { code: "unavailable" } });

      const t0 = performance.now();
      const availability = await edge(`/v1/products/${productId}`);
      expect(performance.now() - t0).toBeLessThan(1_000);
      expect(availability.status).toBe(200);
      expect(await availability.json()).toMatchObject({
        available: 4,
        regions: { [east]: { available: null, held: null, sold: null }, [west]: { available: 4 } },
      });
    } finally {
      stalled.close();
    }
  }, 30_000);
});
