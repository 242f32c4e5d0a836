/**
 * The edge's batch (edge/reservations.ts) against the core's limits (core/http/routes.ts): a
 * full batch of the longest reservations the core accepts must fit its body limit, or the core
 * would refuse every order in it with 413.
 */
import { expect, test } from "bun:test";
import { RESERVATION_BATCH_MAX, RESERVATION_BATCH_MAX_BYTES } from "../../../core/http/routes.ts";
import { BATCH_DEFAULTS } from "../../../edge/reservations.ts";

test("a full batch of the longest legal reservations fits the core's body limit with room to spare", () => {
  expect(BATCH_DEFAULTS.maxBatch).toBeLessThanOrEqual(RESERVATION_BATCH_MAX);
  const longest = {
    orderId: crypto.randomUUID(),
    userId: "u".repeat(128),
    productId: "p".repeat(64),
    quantity: 2 ** 31 - 1,
    originRegion: "r".repeat(32),
    homeRegion: "h".repeat(32),
    notAfter: 8.64e15,
  };
  const body = JSON.stringify({ reservations: Array.from({ length: BATCH_DEFAULTS.maxBatch }, () => longest) });
  expect(new TextEncoder().encode(body).length).toBeLessThanOrEqual(RESERVATION_BATCH_MAX_BYTES / 2);
});
