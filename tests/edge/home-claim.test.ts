/**
 * A buyer's home from the verified JWT's claim, the same on Bun, Deno and workerd: the claimed
 * region keeps the buyer's allowance whatever the hash of the user id says, and a claim naming a
 * region this deployment lacks is refused with `unknown_home_region`.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { regionById } from "../../shared/config.ts";
import { rendezvousHome } from "../../shared/home-region.ts";
import { buyerKeys } from "../../shared/keys.ts";
import { connectRedis } from "../../shared/redis.ts";
import { config, uniqueName } from "../support/helpers.ts";
import { createProduct, withCoresAndWorkers } from "../support/harness.ts";
import { clientToken, edgeEnv, order, overHttp, startRedisRestAdapters } from "../support/edge.ts";
import { edgeRuntimes } from "../support/runtimes.ts";

const regionIds = config.regions.map((r) => r.id);
const [east, west] = regionIds as [string, string];
const secret = "home-claim-test-jwt-secret-of-enough-length";
const restAdapters = startRedisRestAdapters();
const env = edgeEnv(restAdapters.env, { FLUX_GATE_DEV_IDENTITY: undefined, FLUX_GATE_JWT_SECRET: secret });
const edges = edgeRuntimes(env, [18473, 18474, 18475], "jwt-", {
  // wrangler.toml's development vars trust X-User-Id: this Worker must not.
  FLUX_GATE_DEV_IDENTITY: "0",
  FLUX_GATE_JWT_SECRET: secret,
  FLUX_GATE_RATE_LIMIT_USER: env.FLUX_GATE_RATE_LIMIT_USER,
  FLUX_GATE_RATE_LIMIT_IP: env.FLUX_GATE_RATE_LIMIT_IP,
  ...restAdapters.env,
});
const redis = Object.fromEntries(regionIds.map((id) => [id, connectRedis(regionById(config, id).redisUrl)]));

describe("the home region from a JWT claim, on every runtime", () => {
  withCoresAndWorkers(regionIds);
  beforeAll(() => edges.start(), 120_000);
  afterAll(async () => {
    await edges.stop();
    restAdapters.stop();
    for (const r of Object.values(redis)) r.disconnect();
  }, 30_000);

  for (const runtime of edges.runtimes) {
    test(`${runtime.name}: the claimed region keeps the buyer's allowance; an unknown one is refused`, async () => {
      const send = overHttp(`http://127.0.0.1:${runtime.port}`);
      const productId = await createProduct({ units: { [east]: 10 }, perUserLimit: 2 });
      // The hash would home this buyer in us-east: only the claim can put the allowance in eu-west.
      let user = uniqueName("claimed");
      while (rendezvousHome(user, regionIds) !== east) user = uniqueName("claimed");
      const buy = async (claims: Record<string, unknown>) =>
        order(send, {
          user,
          key: uniqueName("k"),
          body: { productId, quantity: 1 },
          headers: { "X-Region": east, Authorization: `Bearer ${await clientToken(secret, { sub: user, ...claims })}` },
        });

      const placed = await buy({ home_region: west });
      expect(placed.status).toBe(202);
      const { orderId, region } = (await placed.json()) as { orderId: string; region: string };
      expect(region).toBe(east);
      const allowance = buyerKeys(user).allowance(productId);
      expect(await redis[west]!.hget(allowance, orderId)).toBe("1");
      expect(await redis[east]!.exists(allowance)).toBe(0);

      const refused = await buy({ home_region: "mars-1" });
      expect(refused.status).toBe(403);
      expect(refused.headers.get("content-type")).toStartWith("application/problem+json");
      expect(await refused.json()).toMatchObject({ code: "unknown_home_region", status: 403 });
    });
  }
});
