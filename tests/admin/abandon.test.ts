/**
 * A move the planner abandons while a core is stalled (SIGSTOP) never moves units, even when
 * the resumer holds it as pending from a listing taken a moment before (issue #24, scene 3):
 * the source's core blocks the change before the ledger marks it failed. A move another driver
 * had already started is finished instead. Each scenario ends with verify clean.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Transfer } from "../../admin/inventory/ledger.ts";
import { abandon, drive, releaseChange, type MoveDeps } from "../../admin/inventory/moves.ts";
import { verify } from "../../cli/verify/verify.ts";
import { inventoryTransfers } from "../../db/schema.ts";
import { waitUntil } from "../../stack/process.ts";
import { config } from "../support/helpers.ts";
import {
  adminApp,
  adminServices,
  createProduct,
  database,
  startCore,
  startWorker,
  type Child,
} from "../support/harness.ts";

const REGIONS = ["us-east", "eu-west"];
const TOKEN = "test-global-token-0123456789";
const { app } = adminApp(REGIONS, [{ name: "ops", scopes: ["global"], token: TOKEN }]);
const services = adminServices(REGIONS);

async function expectVerified(productId: string) {
  const result = await verify(config, { productIds: [productId], settleMs: 15_000 });
  expect(result.drifts).toEqual([]);
}

/** The resumer's view: a driver whose first read of each move is the copy it listed earlier. */
function staleDriver(listed: Transfer[]): MoveDeps {
  const unread = new Map(listed.map((t) => [t.id, t]));
  const get = async (id: string) => {
    const stale = unread.get(id);
    unread.delete(id);
    return stale ?? services.ledger.get(id);
  };
  return { ...services.moves, ledger: { ...services.ledger, get } };
}

const units = async (productId: string) => {
  const view = (await services.products.view(productId))!;
  return {
    pool: view.unallocated,
    regions: Object.fromEntries(view.regions.map((r) => [r.region, [r.allocation, r.live?.allocated]])),
  };
};

describe("a move abandoned while a core is stalled", () => {
  const cores: Record<string, Child> = {};
  const workers: Child[] = [];
  beforeAll(async () => {
    for (const region of REGIONS) cores[region] = await startCore(region);
    workers.push(...REGIONS.map((r) => startWorker(r)));
  }, 60_000);
  afterAll(async () => {
    await Promise.all([...Object.values(cores), ...workers].map((c) => c.kill()));
  }, 30_000);

  for (const buckets of [1, 3]) {
    test(`(${buckets} bucket(s)) us-east stalls past the call's timeout: 202, and the abandoned eu-west release moves nothing when the resumer drives it from its listing`, async () => {
      const productId = await createProduct({ units: { "us-east": 10, "eu-west": 10 }, pool: 10, buckets });
      const stalled = cores["us-east"]!.pid;
      let listed: Transfer[] = [];
      let answer: Response;
      process.kill(stalled, "SIGSTOP");
      try {
        const planning = app.request(`/v1/products/${productId}/allocations`, {
          method: "PUT",
          headers: { Authorization: `Bearer ${TOKEN}`, "Content-Type": "application/json" },
          body: JSON.stringify({ regions: { "us-east": 5, "eu-west": 5 } }),
        });
        // The resumer lists both releases as pending while the planner waits on us-east.
        const seen = await waitUntil(
          async () => {
            listed = (await services.ledger.unfinished(0)).filter((t) => t.productId === productId);
            return listed.length === 2;
          },
          2_500,
          20,
        );
        expect(seen).toBe(true);
        answer = await planning;
      } finally {
        process.kill(stalled, "SIGCONT");
      }
      expect(answer.status).toBe(202);
      const body = (await answer.json()) as { transfers: { from: string; state: string; reason?: string }[] };
      expect(body.transfers.map((t) => [t.from, t.state, t.reason])).toEqual([
        ["us-east", "pending", undefined],
        ["eu-west", "failed", "move_abandoned"],
      ]);

      // us-east answers again; the resumer drives what it listed, in order, from those copies.
      const resumer = staleDriver(listed);
      for (const t of listed) await drive(resumer, t);

      const [m1, m2] = await Promise.all(listed.map((t) => services.ledger.get(t.id)));
      expect([m1!.state, m2!.state, m2!.reason]).toEqual(["completed", "failed", "move_abandoned"]);
      expect(await units(productId)).toEqual({ pool: 15, regions: { "us-east": [5, 5], "eu-west": [10, 10] } });
      await expectVerified(productId);
    }, 60_000);
  }

  test("a release the resumer started before the planner abandons it is finished, not stranded", async () => {
    const productId = await createProduct({ units: { "us-east": 10, "eu-west": 10 } });
    const [move] = await database.db
      .insert(inventoryTransfers)
      .values({
        id: crypto.randomUUID(),
        productId,
        fromRegion: "eu-west",
        toRegion: null,
        units: 4,
        requestedBy: "test",
      })
      .returning();
    // The resumer's release reached eu-west's Redis; its ledger step has not run yet.
    expect((await services.moves.cores.allocate("eu-west", productId, releaseChange(move!), -4)).ok).toBe(true);
    const abandoned = await abandon(services.moves, move!, "move_abandoned");
    expect(abandoned.state).toBe("completed");
    expect(await units(productId)).toEqual({ pool: 4, regions: { "us-east": [10, 10], "eu-west": [6, 6] } });
    await expectVerified(productId);
  }, 30_000);
});
