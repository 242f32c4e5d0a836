/** How the admin API shows a transfer, and answers a move: done, still moving, or refused. */
import type { Context } from "hono";
import { refuse, type ProblemCode } from "../../shared/problems.ts";
import type { Transfer } from "../inventory/ledger.ts";
import type { Change, MoveResult } from "../inventory/products.ts";
import { visible, type AdminEnv } from "./auth.ts";
import { POOL } from "./schemas.ts";

/** A transfer as the API shows it: the pool is named "pool", not null. */
export type TransferBody = ReturnType<typeof transferBody>;
export function transferBody(t: Transfer) {
  return {
    transferId: t.id,
    productId: t.productId,
    from: t.fromRegion ?? POOL,
    to: t.toRegion ?? POOL,
    units: t.units,
    state: t.state,
    ...(t.reason ? { reason: t.reason } : {}),
    requestedBy: t.requestedBy,
    createdAt: t.createdAt,
    updatedAt: t.updatedAt,
  };
}

/** A move its source could not give: 409 with the source's refusal. */
export function failedMove(c: Context, transfer: Transfer, extensions: Record<string, unknown> = {}) {
  const source = transfer.fromRegion ?? "the unallocated pool";
  const detail = `${source} had fewer than ${transfer.units} units free to give; nothing moved (transfer ${transfer.id})`;
  return refuse(c, transfer.reason as ProblemCode, detail, { transfer: transferBody(transfer), ...extensions });
}

/** 201 done, 200 done before (same id), 202 still moving (a core is out of reach), 409 refused. */
export function moveResponse(c: Context, { transfer, replayed }: MoveResult) {
  if (transfer.state === "failed") return failedMove(c, transfer);
  const status = transfer.state !== "completed" ? 202 : replayed ? 200 : 201;
  return c.json(transferBody(transfer), status);
}

/** A move refused before it started; the transfer it met is shown only to who may see it. */
export function refusedMove(c: Context<AdminEnv>, refusal: Extract<Change<unknown>, { ok: false }>) {
  const shown = refusal.transfer && visible(c.get("principal"), refusal.transfer);
  return refuse(c, refusal.code, refusal.detail, shown ? { transfer: transferBody(refusal.transfer!) } : {});
}
