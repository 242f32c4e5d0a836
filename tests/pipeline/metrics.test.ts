/** /metrics on the core and the worker, as Prometheus scrapes them, while orders flow. */
import { describe, expect, test } from "bun:test";
import { readSamples, total } from "../../shared/metrics.ts";
import { waitUntil } from "../../stack/process.ts";
import { config } from "../support/helpers.ts";
import { coreClient, createProduct, pooled, testRegion, withCoresAndWorkers } from "../support/harness.ts";

const region = config.regions[0]!.id;
const scrape = async (url: string) => {
  const response = await fetch(`${url}/metrics`);
  expect(response.headers.get("Content-Type")).toContain("text/plain");
  return readSamples(await response.text());
};

describe("metrics", () => {
  withCoresAndWorkers([region]);

  test("the core counts reservations by outcome and relay publishes; the worker its batches, apply time and lag", async () => {
    const coreUrl = testRegion(region).coreUrl;
    const workerUrl = testRegion(region).workerUrl;
    const before = await scrape(coreUrl);
    const productId = await createProduct({ units: { [region]: 30 }, perUserLimit: 100 });
    await pooled(40, 8, () => coreClient(region).reserve({ userId: "metrics-buyer", productId, quantity: 1 }));

    const core = await scrape(coreUrl);
    const grew = (outcome: string) =>
      total(core, "flux_gate_reservations_total", { outcome }) -
      total(before, "flux_gate_reservations_total", { outcome });
    expect([grew("reserved"), grew("sold_out")]).toEqual([30, 10]);
    expect(
      total(core, "flux_gate_http_request_duration_seconds_count", { route: "/v1/reservations", status: "202" }),
    ).toBeGreaterThanOrEqual(30);
    expect(core.some((s) => s.name === "flux_gate_outbox_depth" && s.labels.product === productId)).toBe(true);
    expect(core.find((s) => s.name === "flux_gate_reservations_total")?.labels).toMatchObject({
      component: "core",
      region,
    });

    // The relay publishes them and the worker applies them: its lag drains to 0.
    const drained = await waitUntil(
      async () => {
        const worker = await scrape(workerUrl);
        const relayed =
          total(await scrape(coreUrl), "flux_gate_relay_published_total") -
          total(before, "flux_gate_relay_published_total");
        return (
          relayed >= 30 &&
          total(worker, "flux_gate_worker_consumer_lag") === 0 &&
          total(worker, "flux_gate_worker_events_applied_total") >= 30
        );
      },
      30_000,
      250,
    );
    expect(drained).toBe(true);
    const worker = await scrape(workerUrl);
    expect(total(worker, "flux_gate_worker_batch_size_count")).toBeGreaterThan(0);
    expect(total(worker, "flux_gate_worker_apply_duration_seconds_count")).toBeGreaterThan(0);
    expect((await fetch(`${workerUrl}/ready`)).status).toBe(200);
  });
});
