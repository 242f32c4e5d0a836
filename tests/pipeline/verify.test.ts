/** `flux-gate verify` on a live sale: clean when every unit is accounted for, loud when not. */
import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { productKeys } from "../../shared/keys.ts";
import { connectRedis } from "../../shared/redis.ts";
import { config, coreOrderPath } from "../support/helpers.ts";
import { adminServices, coreClient, createProduct, pooled, withCoresAndWorkers } from "../support/harness.ts";

const CLI = join(import.meta.dir, "../../cli/flux-gate.ts");
const region = config.regions[0]!.id;

function verifyCli(...args: string[]) {
  const result = Bun.spawnSync([process.execPath, CLI, "verify", ...args], { stdin: "ignore" });
  return { code: result.exitCode, stdout: result.stdout.toString() };
}

describe("flux-gate verify", () => {
  withCoresAndWorkers([region]);

  test("a product split into buckets: after a sale, confirms, cancels and a release, every unit is accounted for", async () => {
    const productId = await createProduct({ units: { [region]: 30 }, pool: 0, buckets: 3 });
    const core = coreClient(region);
    const orders = await pooled(40, 10, async (i) => {
      const response = await core.reserve({ userId: `vb-${i}`, productId, quantity: 1 });
      return response.status === 202 ? ((await response.json()) as { orderId: string }).orderId : undefined;
    });
    const accepted = orders.filter((id): id is string => id !== undefined);
    expect(accepted).toHaveLength(30);
    for (const id of accepted.slice(0, 10))
      await core.call("POST", coreOrderPath(id, { productId, action: "confirm" }));
    for (const id of accepted.slice(10, 20))
      await core.call("POST", coreOrderPath(id, { productId, action: "cancel" }));
    // The ten cancelled units go back to the pool, gathered from whichever buckets hold them.
    const { products } = adminServices([region]);
    expect(await products.setAllocations(productId, { [region]: 20 }, "test")).toMatchObject({ ok: true });
    const view = await products.view(productId);
    expect(view?.regions[0]?.live).toMatchObject({ allocated: 20, available: 0, held: 10, sold: 10 });

    const clean = verifyCli("--product", productId, "--json", "--settle", "30");
    expect(JSON.parse(clean.stdout)).toEqual({ products: 1, transfersInFlight: 0, drifts: [] });
    expect(clean.code).toBe(0);
  });

  test("after a sale with confirms and cancels, every unit is accounted for; a tampered counter is named", async () => {
    const productId = await createProduct({ units: { [region]: 50 } });
    const core = coreClient(region);
    const orders = await pooled(30, 10, async (i) => {
      const response = await core.reserve({ userId: `v-${i}`, productId, quantity: 1 });
      return ((await response.json()) as { orderId: string }).orderId;
    });
    for (const id of orders.slice(0, 10)) await core.call("POST", coreOrderPath(id, { productId, action: "confirm" }));
    for (const id of orders.slice(10, 15)) await core.call("POST", coreOrderPath(id, { productId, action: "cancel" }));

    const clean = verifyCli("--product", productId, "--json", "--settle", "30");
    expect(clean.code).toBe(0);
    expect(JSON.parse(clean.stdout)).toEqual({ products: 1, transfersInFlight: 0, drifts: [] });

    const redis = connectRedis(config.regions[0]!.redisUrl);
    await redis.hincrby(productKeys(region, productId).product, "available", 1);
    try {
      const dirty = verifyCli("--product", productId, "--settle", "0");
      expect(dirty.code).toBe(1);
      expect(dirty.stdout.trim()).toBe(
        `drift: ${productId} in ${region}: available 26 + held 15 + sold 10 = 51, not the 50 allocated`,
      );
    } finally {
      await redis.hincrby(productKeys(region, productId).product, "available", -1);
      redis.disconnect();
    }
  }, 60_000);
});
