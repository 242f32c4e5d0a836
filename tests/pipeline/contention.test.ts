/**
 * 20,000 concurrent reservations from 5,000 users for 1,000 units in one region, through a
 * real core process, Kafka and a real worker, into PostgreSQL.
 */
import { expect, test } from "bun:test";
import { connectRedis } from "../../shared/redis.ts";
import { productKeys } from "../../shared/keys.ts";
import { config } from "../support/helpers.ts";
import { coreClient, createProduct, pooled, waitForOrders, withCoresAndWorkers } from "../support/harness.ts";

const region = config.regions[0]!.id;
withCoresAndWorkers([region]);

test("exactly the allocated units are reserved, no user passes the limit, PostgreSQL holds exactly the accepted orders", async () => {
  const productId = await createProduct({ units: { [region]: 1_000 }, perUserLimit: 2, maxPerOrder: 3 });
  const core = coreClient(region);

  const requests = Array.from({ length: 20_000 }, (_, i) => ({
    orderId: crypto.randomUUID(),
    userId: `user-${i % 5_000}`,
    productId,
    quantity: 1 + ((i * 7) % 3),
  }));
  const answers = await pooled(requests.length, 256, async (i) => {
    const response = await core.reserve(requests[i]!);
    const body = (await response.json()) as { code?: string };
    return { status: response.status, code: body.code };
  });

  const accepted = requests.filter((_, i) => answers[i]!.status === 202);
  const refusals = new Set(answers.filter((a) => a.status !== 202).map((a) => a.code));
  // Quantity 3 is within the order maximum but over the per-user limit of 2.
  const expected = ["insufficient_stock", "sold_out", "user_limit_exceeded"];
  expect([...refusals].filter((code) => !expected.includes(code!))).toEqual([]);
  expect(refusals.has("user_limit_exceeded") && refusals.has("sold_out")).toBe(true);

  expect(accepted.reduce((n, r) => n + r.quantity, 0)).toBe(1_000);
  const perUser = new Map<string, number>();
  for (const r of accepted) perUser.set(r.userId, (perUser.get(r.userId) ?? 0) + r.quantity);
  expect(Math.max(...perUser.values())).toBeLessThanOrEqual(2);

  const redis = connectRedis(config.regions[0]!.redisUrl);
  expect(await redis.hmget(productKeys(region, productId).product, "available", "held")).toEqual(["0", "1000"]);
  redis.disconnect();

  const rows = await waitForOrders(
    productId,
    accepted.map((r) => r.orderId),
  );
  const stored = new Map(rows.map((r) => [r.id, r.quantity]));
  expect(rows).toHaveLength(accepted.length);
  for (const r of accepted) expect(stored.get(r.orderId)).toBe(r.quantity);
}, 120_000);
