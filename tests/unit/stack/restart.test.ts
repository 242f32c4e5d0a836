/** How `npm start` backs off restarting an app that keeps dying: pure. */
import { expect, test } from "bun:test";
import { restartDelayMs } from "../../../stack/apps.ts";

test("restarts back off while an app keeps dying at once: 250 ms, doubling, at most 10 s", () => {
  expect([1, 2, 3, 4, 6, 9, 30].map(restartDelayMs)).toEqual([250, 500, 1_000, 2_000, 8_000, 10_000, 10_000]);
});
