/**
 * The admin dashboard end to end in headless Chromium (Debian's package, driven by
 * playwright-core; no browser download): sign in, watch a sale move the numbers live, move
 * units with the form and see both regions change.
 */
import { coreOrderPath } from "../support/helpers.ts";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import type { Browser, Page } from "playwright-core";
import { launchChromium } from "../support/browser.ts";
import { DEVELOPMENT_ADMIN_TOKEN } from "../../shared/config.ts";
import {
  coreClient,
  createProduct,
  pooled,
  startAdmin,
  startCore,
  startWorker,
  testAdminUrl,
  testRegion,
  untilHealthy,
  type Child,
} from "../support/harness.ts";

/** Set to a folder to keep the screenshots (the docs' come from here). */
const SCREENSHOTS = process.env.FLUX_GATE_SCREENSHOT_DIR;

describe("admin dashboard in Chromium", () => {
  const children: Child[] = [];
  let browser: Browser;
  let page: Page;
  let productId: string;

  beforeAll(async () => {
    for (const region of ["us-east", "eu-west"]) children.push(await startCore(region), startWorker(region));
    for (const region of ["us-east", "eu-west"]) await untilHealthy(testRegion(region).workerUrl, `worker-${region}`);
    children.push(await startAdmin());
    productId = await createProduct({
      units: { "us-east": 300, "eu-west": 200 },
      pool: 100,
      perUserLimit: 1_000,
      maxPerOrder: 3,
    });
    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 1240, height: 980 } });
  }, 90_000);

  afterAll(async () => {
    await browser?.close();
    await Promise.all(children.map((c) => c.kill()));
  }, 30_000);

  const cell = (region: string, field: string) => page.getByTestId(`${productId}-${region}-${field}`);
  const shot = async (name: string) => {
    if (!SCREENSHOTS) return;
    mkdirSync(SCREENSHOTS, { recursive: true });
    await page.screenshot({ path: join(SCREENSHOTS, name), fullPage: true });
  };

  test("a wrong token is refused; the right one shows every product and region", async () => {
    await page.goto(`${testAdminUrl}/dashboard#${productId}`);
    await page.getByTestId("login-token").fill("not-the-token-at-all");
    await page.getByTestId("login-submit").click();
    await waitForText(page, "login-error", "That token is not valid.");

    await page.getByTestId("login-token").fill(DEVELOPMENT_ADMIN_TOKEN);
    await page.getByTestId("login-submit").click();
    await page.getByTestId(`product-${productId}`).waitFor();
    expect(await cell("us-east", "allocated").textContent()).toBe("300");
    expect(await cell("eu-west", "available").textContent()).toBe("200");
    expect(await page.getByTestId(`${productId}-pool`).textContent()).toBe("100");
    // Products are shown one at a time; the newest is ours, and the address names it.
    expect(await page.getByTestId("product-select").inputValue()).toBe(productId);
  }, 30_000);

  test("a sale moves held, sold, the order rate and the queues live, without a reload", async () => {
    const core = coreClient("us-east");
    const orders = await pooled(40, 8, async (i) => {
      const orderId = crypto.randomUUID();
      await core.reserve({ orderId, userId: `dash-${i}`, productId, quantity: 1 });
      return orderId;
    });
    for (const id of orders.slice(0, 15)) await core.call("POST", coreOrderPath(id, { productId, action: "confirm" }));
    await waitForText(page, `${productId}-us-east-sold`, "15");
    await waitForText(page, `${productId}-us-east-held`, "25");
    expect(await cell("us-east", "available").textContent()).toBe("260");
    // The rate is computed from two readings a second apart: it moves while orders flow, and
    // falls back to 0 when they stop; the count then matches the admin API's own figure.
    let flowing = true;
    const flow = (async () => {
      for (let i = 0; flowing; i++) {
        await core.reserve({ userId: `flow-${i}`, productId, quantity: 1 });
        await Bun.sleep(25);
      }
    })();
    await waitForText(page, "rate-us-east", (text) => Number(text) > 0);
    flowing = false;
    await flow;
    await waitForText(page, "rate-us-east", "0.0");
    const stats = (await (
      await fetch(`${testAdminUrl}/v1/stats`, { headers: { Authorization: `Bearer ${DEVELOPMENT_ADMIN_TOKEN}` } })
    ).json()) as { regions: { region: string; ordersAccepted: number }[] };
    const accepted = stats.regions.find((r) => r.region === "us-east")!.ordersAccepted;
    expect(accepted).toBeGreaterThan(40);
    await waitForText(page, "accepted-us-east", (text) => Number(text.replaceAll(",", "")) === accepted);
    expect(await page.getByTestId("lag-us-east").textContent()).toMatch(/^\d[\d,]*$/);
    expect(await page.getByTestId("outbox-us-east").textContent()).toMatch(/^\d[\d,]*$/);
    await shot("dashboard.png");
  }, 30_000);

  test("the charts draw the last minutes, and their last points are the admin API's numbers", async () => {
    type Drawn = Record<
      string,
      { labels: string[]; last: (number | null)[]; points: number; canvas: [number, number] }
    >;
    const drawn = () =>
      page.evaluate(() =>
        Object.fromEntries(
          // Runs in the page: globalThis is its window.
          Object.entries(
            (
              globalThis as unknown as {
                fluxCharts: Record<
                  string,
                  {
                    plot: {
                      series: { label?: string }[];
                      data: (number | null)[][];
                      root: { querySelector(s: string): { width: number; height: number } | null };
                    };
                  }
                >;
              }
            ).fluxCharts,
          ).map(([name, { plot }]) => {
            const canvas = plot.root.querySelector("canvas")!;
            return [
              name,
              {
                labels: plot.series.slice(1).map((s) => s.label ?? ""),
                last: plot.data.map((d) => d.at(-1) ?? null),
                points: plot.data[0]!.length,
                canvas: [canvas.width, canvas.height],
              },
            ];
          }),
        ),
      ) as Promise<Drawn>;
    let charts: Drawn = {};
    for (let i = 0; i < 50 && !((charts.accepted?.points ?? 0) > 5); i++) {
      await Bun.sleep(200);
      charts = await drawn();
    }
    expect(Object.keys(charts).sort()).toEqual(["accepted", "lag", "latency", "outbox", "room", "sell"]);
    for (const chart of Object.values(charts)) {
      expect(chart.points).toBeGreaterThan(5);
      expect(chart.canvas[0]).toBeGreaterThan(300);
      expect(chart.canvas[1]).toBeGreaterThan(100);
    }
    expect(charts.latency!.labels).toEqual([
      "edge p50",
      "edge p99",
      "us-east core p50",
      "us-east core p99",
      "eu-west core p50",
      "eu-west core p99",
    ]);
    expect(charts.room!.labels).toEqual([
      "us-east queued",
      "us-east admitted/s",
      "eu-west queued",
      "eu-west admitted/s",
    ]);

    // The chart's last point is the history point of the same second, as the admin API gives it.
    const asAdmin = { headers: { Authorization: `Bearer ${DEVELOPMENT_ADMIN_TOKEN}` } };
    const history = (await (await fetch(`${testAdminUrl}/v1/stats/history`, asAdmin)).json()) as {
      points: {
        at: number;
        regions: Record<
          string,
          {
            acceptedPerSecond: number | null;
            outboxDepth: number | null;
            consumerLag: number | null;
            sellThrough: Record<string, number>;
          }
        >;
      }[];
    };
    const same = history.points.find((p) => p.at / 1000 === charts.outbox!.last[0])!;
    expect(same).toBeDefined();
    expect(charts.outbox!.last.slice(1)).toEqual([
      same.regions["us-east"]!.outboxDepth,
      same.regions["eu-west"]!.outboxDepth,
    ]);
    expect(charts.lag!.last.slice(1)).toEqual([
      same.regions["us-east"]!.consumerLag,
      same.regions["eu-west"]!.consumerLag,
    ]);
    expect(charts.accepted!.last.slice(1)).toEqual([
      same.regions["us-east"]!.acceptedPerSecond,
      same.regions["eu-west"]!.acceptedPerSecond,
    ]);
    // The orders drew a curve: some second saw us-east accept orders.
    expect(history.points.some((p) => (p.regions["us-east"]!.acceptedPerSecond ?? 0) > 0)).toBe(true);

    // Sell-through: (sold + held) / allocated, as the product's own view counts them.
    const view = (await (await fetch(`${testAdminUrl}/v1/products/${productId}`, asAdmin)).json()) as {
      regions: { region: string; live: { allocated: number; held: number; sold: number } }[];
    };
    const east = view.regions.find((r) => r.region === "us-east")!.live;
    expect(charts.sell!.last[1]).toBe(Math.round(((east.sold + east.held) / east.allocated) * 1000) / 10);
    expect(charts.sell!.last[1]).toBeGreaterThan(0);
  }, 30_000);

  test("the transfer form moves units and both regions show it", async () => {
    await page.getByTestId("transfer-from").selectOption("us-east");
    await page.getByTestId("transfer-to").selectOption("eu-west");
    await page.getByTestId("transfer-units").fill("60");
    await page.getByTestId("transfer-submit").click();
    await waitForText(page, "transfer-result", "60 units us-east → eu-west: completed");
    await waitForText(page, `${productId}-us-east-allocated`, "240");
    await waitForText(page, `${productId}-eu-west-allocated`, "260");

    // More than us-east has free: refused, and nothing moves.
    await page.getByTestId("transfer-units").fill("1000");
    await page.getByTestId("transfer-submit").click();
    await waitForText(page, "transfer-result", "insufficient_available", { partial: true });
    expect(await cell("us-east", "allocated").textContent()).toBe("240");
    await shot("dashboard-transfer.png");
  }, 30_000);
});

/**
 * Waits for an element's text to be `value`, to contain it, or to pass it when it is a test
 * (the page refreshes every second).
 */
async function waitForText(
  page: Page,
  testId: string,
  value: string | ((text: string) => boolean),
  { partial = false } = {},
): Promise<void> {
  const deadline = Date.now() + 15_000;
  const matches = (text: string) =>
    typeof value === "function" ? value(text) : partial ? text.includes(value) : text === value;
  let text: string | null = null;
  while (Date.now() < deadline) {
    text = await page
      .getByTestId(testId)
      .textContent({ timeout: 1_000 })
      .catch(() => null);
    if (text !== null && matches(text)) return;
    await Bun.sleep(100);
  }
  throw new Error(
    `${testId} shows ${JSON.stringify(text)}, not ${typeof value === "function" ? "what the test wants" : `${partial ? "something with " : ""}${JSON.stringify(value)}`}`,
  );
}
