/**
 * A core killed with -9 in the middle of a batch of reservations (FLUX_GATE_TEST_CORE_HALT:
 * batch-half-applied: it reserves the first half, then never answers). The edge's callers get no
 * answer (unsettled, as for one request); every order of the batch was reserved once or not at
 * all; the batch retried whole, and each order retried alone, lands on its own outcome.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { coreClient as signedClient } from "../../core/http/client.ts";
import { batched, type ReservationBody } from "../../edge/reservations.ts";
import { orderKey, productKeys } from "../../shared/keys.ts";
import { connectRedis } from "../../shared/redis.ts";
import { waitUntil } from "../../stack/process.ts";
import { config } from "../support/helpers.ts";
import { coreClient, createProduct, startCore, testRegion, type Child } from "../support/harness.ts";

const REGION = config.regions[0]!.id;
const redis = connectRedis(config.regions[0]!.redisUrl);
let core: Child | undefined;
afterAll(async () => {
  await core?.kill("SIGKILL");
  redis.disconnect();
});

describe("a core killed -9 with a batch half applied", () => {
  test("each order reserved once or not at all; retried whole or alone, each gets its own outcome", async () => {
    core = await startCore(REGION, { FLUX_GATE_TEST_CORE_HALT: "batch-half-applied" });
    const productId = await createProduct({ units: { [REGION]: 5 } });
    const sent: ReservationBody[] = Array.from({ length: 8 }, (_, i) => ({
      orderId: crypto.randomUUID(),
      userId: `crash-${i}`,
      productId,
      quantity: 1,
      originRegion: REGION,
      homeRegion: REGION,
    }));
    // The edge's batcher, as the Bun edge runs it: the 8 orders leave in one batch.
    const region = testRegion(REGION);
    const reserveAt = batched(() => signedClient(region, { timeoutMs: 10_000 }), {
      timeoutMs: 10_000,
      maxBatch: 64,
      maxInFlight: 1,
    });
    const answers = Promise.all(sent.map((r) => reserveAt(region, r)));
    const held = async () => Number(await redis.hget(productKeys(REGION, productId).product, "held"));
    expect(await waitUntil(async () => (await held()) === 4, 10_000, 20)).toBe(true);
    await core.kill("SIGKILL");
    core = undefined;
    // No order of the batch is answered: each is unsettled for its caller, none refused, none served.
    for (const answer of await answers) expect(answer.kind).not.toBe("answer");
    const written = async () =>
      (await Promise.all(sent.map((r) => redis.exists(orderKey(REGION, productId, r.orderId))))).map(Number);
    expect(await written()).toEqual([1, 1, 1, 1, 0, 0, 0, 0]);

    core = await startCore(REGION);
    const client = coreClient(REGION);
    const whole = await client.call("POST", "/v1/reservations/batch", { reservations: sent });
    expect(whole.status).toBe(200);
    const { outcomes } = (await whole.json()) as { outcomes: { status: number; body: Record<string, unknown> }[] };
    expect(outcomes.map((o) => [o.status, o.body.orderId ?? o.body.code, o.body.replayed])).toEqual([
      ...sent.slice(0, 4).map((r) => [202, r.orderId, true]),
      [202, sent[4]!.orderId, false],
      [409, "sold_out", undefined],
      [409, "sold_out", undefined],
      [409, "sold_out", undefined],
    ]);
    // Each alone, as the edge's retry of each order would send it.
    for (const [i, r] of sent.entries()) {
      const alone = await client.call("POST", "/v1/reservations", r);
      const body = (await alone.json()) as Record<string, unknown>;
      if (i < 5) expect([alone.status, body.orderId, body.replayed]).toEqual([202, r.orderId, true]);
      else expect([alone.status, body.code]).toEqual([409, "sold_out"]);
    }
    expect(await written()).toEqual([1, 1, 1, 1, 1, 0, 0, 0]);
    expect(await redis.hmget(productKeys(REGION, productId).product, "available", "held")).toEqual(["0", "5"]);
    expect(await redis.xlen(productKeys(REGION, productId).outbox)).toBeLessThanOrEqual(5);
  }, 60_000);
});
