/** The scripts' replies, decoded by place as each script's header says (core/reservation/replies.ts). */
import { describe, expect, test } from "bun:test";
import {
  allocateReply,
  expireReply,
  forgetReply,
  reserveReply,
  settleReply,
} from "../../../core/reservation/replies.ts";

describe("script replies", () => {
  test("reserve: a new hold, a replay of a sold order, a refusal", () => {
    expect(reserveReply(["ok", "reserved", "1700000000000", 0, "eu-west", 1])).toEqual({
      ok: true,
      value: {
        status: "reserved",
        expiresAt: 1_700_000_000_000,
        replayed: false,
        originRegion: "eu-west",
        outboxWasEmpty: true,
      },
    });
    expect(reserveReply(["ok", "confirmed", "", 1, "", 0])).toMatchObject({
      value: { expiresAt: null, replayed: true, outboxWasEmpty: false },
    });
    expect(reserveReply(["err", "sold_out"])).toEqual({ ok: false, code: "sold_out" });
  });

  test("confirm and cancel: a refusal names the order's status when it has one", () => {
    expect(settleReply(["ok", "confirmed", ""])).toEqual({ ok: true, value: { status: "confirmed", expiresAt: null } });
    expect(settleReply(["err", "hold_expired", "expired"])).toEqual({
      ok: false,
      code: "hold_expired",
      status: "expired",
    });
    expect(settleReply(["err", "not_found"])).toEqual({ ok: false, code: "not_found" });
  });

  test("expire: no next due time while the product takes no holds", () => {
    expect(expireReply([3, 1_700_000_000_000])).toEqual({ expired: 3, nextDueAt: 1_700_000_000_000 });
    expect(expireReply([0, -1])).toEqual({ expired: 0 });
  });

  test("allocate and forget", () => {
    expect(allocateReply(["ok", "10", "8", "2", "0", 1, "-3"])).toEqual({
      ok: true,
      value: { allocated: 10, available: 8, held: 2, sold: 0, replayed: true, moved: -3 },
    });
    expect(allocateReply(["err", "insufficient_available"])).toEqual({ ok: false, code: "insufficient_available" });
    expect(forgetReply(["a", "b"])).toEqual(["a", "b"]);
  });
});
