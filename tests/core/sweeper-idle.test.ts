/**
 * The sweeper's timer ticks every `intervalMs`, but a tick with nothing due asks Redis nothing:
 * the products are listed at most once a second. Holds still expire within a tick of falling due.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { parseInfo } from "../../core/reservation/redis-info.ts";
import { RegionStore } from "../../core/reservation/store.ts";
import { startSweeper } from "../../core/sweeper/sweeper.ts";
import { connectRedis, type Redis } from "../../shared/redis.ts";
import { ownRedis, saleRules } from "../support/helpers.ts";

const REGION = "test-sweeper-idle";
let server: Awaited<ReturnType<typeof ownRedis>>;
let redis: Redis;
let store: RegionStore;

const calls = async (command: string) =>
  Number(parseInfo(await redis.info("commandstats"))[`cmdstat_${command}`]?.match(/calls=(\d+)/)?.[1] ?? 0);

beforeAll(async () => {
  server = await ownRedis();
  redis = connectRedis(server.url);
  store = new RegionStore(redis, REGION, 100_000);
}, 30_000);
afterAll(async () => {
  redis.disconnect();
  await server.stop();
});

test("idle, the sweeper lists the products once a second; a hold still expires within a tick of its time", async () => {
  await store.activate(saleRules("quick", { productId: "quick", perUserLimit: 10, maxPerOrder: 1, holdSeconds: 1 }));
  await store.allocation.allocate("quick", "initial", 10);
  let expired = 0;
  const sweeper = startSweeper(store, 50, undefined, (n) => (expired += n));
  try {
    await Bun.sleep(200);
    await redis.config("RESETSTAT");
    await Bun.sleep(2_000);
    // 40 ticks: each listed the products before (40 SMEMBERS), now about two; the product, with
    // no hold, is looked at once per hold time (1 s).
    expect(await calls("smembers")).toBeLessThanOrEqual(3);
    expect(await calls("evalsha")).toBeLessThanOrEqual(3);

    const reserved = await store.reserve({
      orderId: crypto.randomUUID(),
      userId: "ann",
      productId: "quick",
      quantity: 1,
      originRegion: REGION,
    });
    expect(reserved.ok).toBe(true);
    const due = Number(reserved.ok ? reserved.value.expiresAt : 0);
    while (expired === 0 && Date.now() < due + 2_000) await Bun.sleep(5);
    expect(expired).toBe(1);
    // Within a tick (50 ms) and a script of the hold's time.
    expect(Date.now() - due).toBeLessThan(150);
    expect(await store.stock("quick")).toMatchObject({ available: 10, held: 0 });
  } finally {
    await sweeper.stop();
  }
}, 30_000);
