/**
 * The waiting room's page in Chromium: a buyer sent there sees their place move, then the order
 * go through, without touching anything. The edge serves it over HTTP (Bun.serve) in front of
 * real cores, workers and Redis.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Browser } from "playwright-core";
import { backgroundWork } from "../../edge/background.ts";
import { launchChromium } from "../support/browser.ts";
import { config, uniqueName } from "../support/helpers.ts";
import { createProduct, withCoresAndWorkers } from "../support/harness.ts";
import { edgeApp, edgeEnv, overHttp, startRedisRestAdapters, stockIn } from "../support/edge.ts";

const home = config.regions[0]!.id;
const restAdapters = startRedisRestAdapters();
const app = edgeApp(edgeEnv(restAdapters.env));
const background = backgroundWork();
const server = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: (r) => app.fetch(r, {}, background.context) });
const base = `http://127.0.0.1:${server.port}`;
const send = overHttp(base);

describe("the waiting room's page in Chromium", () => {
  withCoresAndWorkers([home]);
  let browser: Browser;
  beforeAll(async () => {
    browser = await launchChromium();
  }, 30_000);
  afterAll(async () => {
    await browser?.close();
    server.stop(true);
    restAdapters.stop();
  });

  test("the place counts down, then the order goes through by itself", async () => {
    const productId = await createProduct({ units: { [home]: 10 }, room: { mode: "queue", rate: 1 } });
    const buy = (user: string, accept = "application/json") =>
      send("/v1/orders", {
        method: "POST",
        redirect: "manual",
        headers: {
          "Content-Type": "application/json",
          Accept: accept,
          "X-User-Id": user,
          "X-Region": home,
          "Idempotency-Key": uniqueName("k"),
        },
        body: JSON.stringify({ productId, quantity: 1 }),
      });
    // Three buyers ahead, one a second: the page's buyer waits a few seconds.
    const ahead = await Promise.all(["ahead-1", "ahead-2", "ahead-3", "ahead-4"].map((u) => buy(u)));
    const servedAhead = (await Promise.all(ahead.map((a) => a.json() as Promise<{ orderId?: string }>))).filter(
      (b) => b.orderId,
    ).length;
    const sent = await buy("browser-buyer", "text/html");
    expect(sent.status).toBe(303);

    const page = await browser.newPage();
    await page.goto(base + sent.headers.get("location"));
    const seen: number[] = [];
    await page.locator('#state[data-state="waiting"]').waitFor();
    while ((await page.locator("#state").getAttribute("data-state")) === "waiting") {
      seen.push(Number((await page.locator("#ahead").textContent())?.replaceAll(",", "")));
      await page.waitForTimeout(100);
    }
    await page.locator('#state[data-state="ordered"]').waitFor({ timeout: 15_000 });
    expect(await page.locator("#result").textContent()).toMatch(/^Order [0-9a-f-]{36}: reserved in us-east\.$/);
    // The place moved, and only forward.
    expect(seen[0]).toBeGreaterThan(0);
    expect(new Set(seen).size).toBeGreaterThan(1);
    expect(seen).toEqual([...seen].sort((a, b) => b - a));
    // The buyers still queued ahead ordered nothing: only the page's order took a unit more.
    expect(await stockIn(send, home, productId)).toBe(10 - servedAhead - 1);
    await page.close();
  }, 60_000);
});
