/**
 * A transfer survives kill -9 at every step: of the admin process that drives it (halted
 * exactly there by FLUX_GATE_TEST_HALT_AFTER), and of either core. The transfer resumes,
 * completes exactly once, and verify finds every unit.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { eq } from "drizzle-orm";
import type { Transfer } from "../../admin/inventory/ledger.ts";
import { STEPS, type Step } from "../../admin/inventory/moves.ts";
import { DEVELOPMENT_ADMIN_TOKEN } from "../../shared/config.ts";
import { productKeys } from "../../shared/keys.ts";
import { connectRedis } from "../../shared/redis.ts";
import { inventoryTransfers } from "../../db/schema.ts";
import { waitUntil } from "../../stack/process.ts";
import { verify } from "../../cli/verify/verify.ts";
import { config } from "../support/helpers.ts";
import {
  adminServices,
  createProduct,
  database,
  startAdmin,
  startCore,
  startWorker,
  testAdminUrl,
  testLog,
  type Child,
} from "../support/harness.ts";

const FROM = "us-east";
const TO = "eu-west";
const UNITS = 7;
/** The ledger state each step leaves behind. */
const STATE_AFTER: Record<Step, Transfer["state"]> = {
  recorded: "pending",
  "source-released": "pending",
  released: "released",
  "target-claimed": "released",
  completed: "completed",
};

function requestTransfer(transferId: string, productId: string): Promise<Response | undefined> {
  return fetch(`${testAdminUrl}/v1/transfers`, {
    method: "POST",
    headers: { Authorization: `Bearer ${DEVELOPMENT_ADMIN_TOKEN}`, "Content-Type": "application/json" },
    body: JSON.stringify({ transferId, productId, from: FROM, to: TO, units: UNITS }),
  }).catch(() => undefined);
}

const stateOf = async (id: string) =>
  (await database.db.select().from(inventoryTransfers).where(eq(inventoryTransfers.id, id)))[0]?.state;

async function expectCompletedOnce(productId: string, transferId: string) {
  const done = await waitUntil(async () => (await stateOf(transferId)) === "completed", 20_000, 100);
  expect(done).toBe(true);
  const view = await adminServices([FROM, TO]).products.view(productId);
  expect(view!.regions.map((r) => [r.region, r.allocation, r.live?.allocated])).toEqual([
    [FROM, 50 - UNITS, 50 - UNITS],
    [TO, 50 + UNITS, 50 + UNITS],
  ]);
  const result = await verify(config, { productIds: [productId], settleMs: 10_000 });
  expect(result.drifts).toEqual([]);
}

describe("a transfer killed at any step completes exactly once", () => {
  const cores: Record<string, Child> = {};
  const workers: Child[] = [];
  /** The admin process of the test under way, stopped by the test or, if it failed, here. */
  let admin: Child | undefined;

  beforeAll(async () => {
    for (const region of [FROM, TO]) cores[region] = await startCore(region);
    workers.push(startWorker(FROM), startWorker(TO));
  }, 60_000);
  afterAll(async () => {
    await admin?.kill("SIGKILL");
    await Promise.all([...Object.values(cores), ...workers].map((c) => c.kill()));
  }, 30_000);

  test.each([...STEPS])(
    "the admin process killed with -9 after %s; a new one finishes the transfer",
    async (step) => {
      const productId = await createProduct({ units: { [FROM]: 50, [TO]: 50 } });
      const transferId = crypto.randomUUID();
      const log = testLog("admin");
      const logged = () =>
        readFileSync(log, "utf8")
          .split("\n")
          .some((l) => l.includes(transferId) && l.includes(`"step":"${step}"`));

      const doomed = await startAdmin({ FLUX_GATE_TEST_HALT_AFTER: step });
      admin = doomed;
      void requestTransfer(transferId, productId);
      expect(await waitUntil(async () => logged(), 15_000, 50)).toBe(true);
      await doomed.kill("SIGKILL");
      expect(await stateOf(transferId)).toBe(STATE_AFTER[step]);

      const successor = await startAdmin({ FLUX_GATE_TRANSFER_RESUME_MS: "200" });
      admin = successor;
      try {
        await expectCompletedOnce(productId, transferId);
        // The client retries with the same id, as a client whose connection died would.
        const retried = await requestTransfer(transferId, productId);
        expect(retried?.status).toBe(200);
        await expectCompletedOnce(productId, transferId);
      } finally {
        await successor.kill();
        admin = undefined;
      }
    },
    60_000,
  );

  for (const [down, state] of [
    [FROM, "pending"],
    [TO, "released"],
  ] as const) {
    test(`${down}'s core applies its step of the transfer, then dies with -9 before answering: a new core replays it, and the transfer completes once`, async () => {
      const productId = await createProduct({ units: { [FROM]: 50, [TO]: 50 } });
      await cores[down]!.kill();
      cores[down] = await startCore(down, { FLUX_GATE_TEST_CORE_HALT: "allocation-applied" });
      admin = await startAdmin({ FLUX_GATE_TRANSFER_RESUME_MS: "200" });
      try {
        const transferId = crypto.randomUUID();
        const answer = await requestTransfer(transferId, productId);
        expect(answer?.status).toBe(202);
        expect(await answer!.json()).toMatchObject({ transferId, state });
        // The change reached the region's Redis; the answer never left the core.
        const change = `${transferId}/${down === FROM ? "release" : "claim"}`;
        const redis = connectRedis(config.regions.find((r) => r.id === down)!.redisUrl);
        expect(await redis.hget(productKeys(down, productId).allocationChanges, change)).toBe(
          String(down === FROM ? -UNITS : UNITS),
        );
        redis.disconnect();
        await cores[down]!.kill("SIGKILL");
        cores[down] = await startCore(down);
        await expectCompletedOnce(productId, transferId);
      } finally {
        await admin.kill();
        admin = undefined;
      }
    }, 60_000);

    test(`${down}'s core killed with -9: the transfer waits ${state}, then completes when the core is back`, async () => {
      const productId = await createProduct({ units: { [FROM]: 50, [TO]: 50 } });
      admin = await startAdmin({ FLUX_GATE_TRANSFER_RESUME_MS: "200" });
      try {
        await cores[down]!.kill("SIGKILL");
        const transferId = crypto.randomUUID();
        const answer = await requestTransfer(transferId, productId);
        expect(answer?.status).toBe(202);
        expect(await answer!.json()).toMatchObject({ transferId, state });
        cores[down] = await startCore(down);
        await expectCompletedOnce(productId, transferId);
      } finally {
        await admin.kill();
        admin = undefined;
      }
    }, 60_000);
  }
});
