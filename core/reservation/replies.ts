/**
 * What each script beside this file answers, decoded: one function per script, reading the
 * reply its header's `Returns` line describes, so no caller counts places in an array. Pure.
 */
import type { OrderStatus } from "../../shared/events.ts";
import type { ProblemCode } from "../../shared/problems.ts";
import type { Result } from "../../shared/result.ts";
import type { Reply } from "./scripts.ts";
import { stockOf } from "./stock.ts";
import type { Outcome, Stock } from "./types.ts";

/** An order's `expiresAt` as the scripts and its hash keep it: '' (or nothing) once it is sold. */
export const expiry = (raw: unknown) => (raw === "" || raw === null || raw === undefined ? null : Number(raw));

/** reserve.lua, one order of its batch. */
export function reserveReply(reply: Reply): Result<{
  status: OrderStatus;
  expiresAt: number | null;
  replayed: boolean;
  originRegion: string;
  /** The order's event is the only one in its outbox: the relay wants a note of it. */
  outboxWasEmpty: boolean;
}> {
  if (reply[0] !== "ok") return { ok: false, code: reply[1] as ProblemCode };
  return {
    ok: true,
    value: {
      status: reply[1] as OrderStatus,
      expiresAt: expiry(reply[2]),
      replayed: reply[3] === 1,
      originRegion: String(reply[4]),
      outboxWasEmpty: reply[5] === 1,
    },
  };
}

/** confirm.lua and cancel.lua: a refusal about an existing order names its status. */
export function settleReply(reply: Reply): Outcome<{ status: OrderStatus; expiresAt: number | null }> {
  if (reply[0] !== "ok") {
    return { ok: false, code: reply[1] as ProblemCode, ...(reply[2] ? { status: reply[2] as OrderStatus } : {}) };
  }
  return { ok: true, value: { status: reply[1] as OrderStatus, expiresAt: expiry(reply[2]) } };
}

/** expire.lua: `nextDueAt` is left out while the product takes no holds. */
export function expireReply(reply: Reply): { expired: number; nextDueAt?: number } {
  const [expired, nextDueAt] = reply.map(Number) as [number, number];
  return { expired, ...(nextDueAt >= 0 ? { nextDueAt } : {}) };
}

/** activate.lua: the bucket's counters. */
export const activateReply = (reply: Reply): Stock => stockOf(reply.slice(1));

/** allocate.lua: `moved` is what an `up-to` release gave back (allocate.lua's modes). */
export function allocateReply(reply: Reply): Outcome<Stock & { replayed: boolean; moved: number }> {
  if (reply[0] !== "ok") return { ok: false, code: reply[1] as ProblemCode };
  return { ok: true, value: { ...stockOf(reply.slice(1)), replayed: reply[5] === 1, moved: Number(reply[6]) } };
}

/** forget.lua: the order ids it forgot. */
export const forgetReply = (reply: Reply): string[] => reply.map(String);
