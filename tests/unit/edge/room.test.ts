/** The waiting room's pure parts: the scripts' replies as values, a ticket's status, the stock kept a moment. */
import { describe, expect, test } from "bun:test";
import { parseStanding } from "../../../edge/room/room.ts";
import { freshStock, queueStatus, STOCK_TTL_MS } from "../../../edge/room/waiting-room.ts";
import type { Region } from "../../../shared/config.ts";

describe("a room's reply", () => {
  test("admitted carries the end of its window; the others how many are ahead", () => {
    expect(parseStanding(["admitted", 1_700_000_120_000, 1_700_000_000_000, 40])).toEqual({
      state: "admitted",
      ahead: 0,
      waiting: 40,
      now: 1_700_000_000_000,
      admittedUntil: 1_700_000_120_000,
    });
    expect(parseStanding(["waiting", 12, 5, 40])).toEqual({ state: "waiting", ahead: 12, waiting: 40, now: 5 });
    expect(parseStanding(["shed", 0, 5, 3])).toMatchObject({ state: "shed", ahead: 0 });
  });

  test("a state the room does not know is an error, not a guess", () => {
    expect(() => parseStanding(["maybe", 0, 0, 0])).toThrow("the room's script answered");
  });
});

describe("a ticket's status", () => {
  const ticket = {
    id: "t",
    userId: "u",
    homeRegion: "us-east",
    productId: "p",
    quantity: 2,
    idempotencyKey: "k",
    region: "us-east",
  };
  test("the wait is the buyers ahead at the room's rate, rounded up; links lead to the ticket's routes", () => {
    const status = queueStatus("TOKEN", ticket, { state: "waiting", ahead: 61, waiting: 90, now: 0 }, 20);
    expect(status).toMatchObject({
      state: "waiting",
      ahead: 61,
      waiting: 90,
      estimatedWaitSeconds: 4,
      admittedUntil: null,
      region: "us-east",
      quantity: 2,
      links: { status: "/v1/queue/TOKEN", order: "/v1/queue/TOKEN/order", page: "/queue/TOKEN" },
    });
  });

  test("admitted: no wait, the window's end as a time", () => {
    const status = queueStatus("T", ticket, { state: "admitted", ahead: 0, waiting: 0, now: 0, admittedUntil: 0 }, 5);
    expect(status).toMatchObject({ estimatedWaitSeconds: null, admittedUntil: "1970-01-01T00:00:00.000Z" });
  });
});

test("a region's free units are asked once a moment, and unknown (-1) when its core does not answer", async () => {
  let asked = 0;
  const region = { id: "us-east" } as Region;
  const stock = freshStock(async (_, productId) => {
    asked++;
    if (productId === "down") throw new Error("no answer");
    return productId === "gone" ? undefined : 7;
  });
  expect(await Promise.all([stock(region, "p"), stock(region, "p"), stock(region, "p")])).toEqual([7, 7, 7]);
  expect(asked).toBe(1);
  expect(await stock(region, "down")).toBe(-1);
  expect(await stock(region, "gone")).toBe(-1);
  await Bun.sleep(STOCK_TTL_MS + 10);
  await stock(region, "p");
  expect(asked).toBe(4);
});
