/**
 * Drives a unit move through the ledger: release from the source, then claim into the target.
 * A region is changed only by its own core, each change once per change id, and the ledger
 * records a step before the next starts, so a driver that dies anywhere leaves a state from
 * which any other driver finishes the move exactly once.
 */
import { allocationChangeId } from "../../shared/allocation-changes.ts";
import { ConfigError } from "../../shared/config.ts";
import type { ProblemCode } from "../../shared/problems.ts";
import type { Cores } from "./cores.ts";
import type { Transfer, TransferLedger } from "./ledger.ts";

/**
 * Points between the steps, for tests that kill the driver there: `source-released` and
 * `target-claimed` fall between a region's Redis change and the ledger's record of it.
 */
export const STEPS = ["recorded", "source-released", "released", "target-claimed", "completed"] as const;
export type Step = (typeof STEPS)[number];

export interface MoveDeps {
  ledger: TransferLedger;
  cores: Cores;
  /** Called after each step; only tests set it. */
  afterStep?: (step: Step, transfer: Transfer) => Promise<void>;
}

export const releaseChange = (t: Transfer) => allocationChangeId(t.id, "release");
export const claimChange = (t: Transfer) => allocationChangeId(t.id, "claim");

/**
 * Takes the move as far as it goes: completed or failed, unless a core is out of reach (throws).
 * It starts from the ledger's state, not the caller's copy, which may be old (the resumer's list).
 */
export async function drive(deps: MoveDeps, transfer: Transfer): Promise<Transfer> {
  let t = (await deps.ledger.get(transfer.id)) ?? transfer;
  while (t.state === "pending" || t.state === "released") {
    if (t.state === "pending") await release(deps, t);
    else await claim(deps, t);
    t = (await deps.ledger.get(t.id))!;
    if (t.state === "released" || t.state === "completed") await deps.afterStep?.(t.state, t);
  }
  return t;
}

/**
 * Gives up a move that has not started (`reason`), so that it moves nothing, ever. Marking it
 * failed in PostgreSQL is not enough for a release: a driver that listed it as pending earlier
 * (the resumer) would go on to the source's core. So the source's core first blocks the change,
 * as it remembers a refusal. If the units had left already, or another driver started a claim
 * from the pool, the move is finished instead: its units are on their way. A core out of
 * reach throws, and the move stays pending for the resumer to settle.
 */
export async function abandon(deps: MoveDeps, t: Transfer, reason: ProblemCode): Promise<Transfer> {
  const blocked =
    t.fromRegion === null ||
    (await deps.cores.block(t.fromRegion, t.productId, releaseChange(t), t.units)) === "refused";
  if (blocked) await deps.ledger.failed(t, reason);
  return drive(deps, t);
}

async function release({ ledger, cores, afterStep }: MoveDeps, t: Transfer): Promise<void> {
  if (t.fromRegion === null) return ledger.releasedFromPool(t);
  const outcome = await cores.allocate(t.fromRegion, t.productId, releaseChange(t), -t.units);
  if (!outcome.ok) {
    // The region had fewer available units, or never had the product: nothing moved.
    return ledger.failed(t, outcome.code === "unknown_product" ? "insufficient_available" : outcome.code);
  }
  await afterStep?.("source-released", t);
  await ledger.releasedFromRegion(t);
}

async function claim({ ledger, cores, afterStep }: MoveDeps, t: Transfer): Promise<void> {
  if (t.toRegion !== null) {
    const outcome = await cores.allocate(t.toRegion, t.productId, claimChange(t), t.units);
    // Adding units cannot be refused; a refusal here means the core is not the one we think.
    if (!outcome.ok)
      throw new Error(`${t.toRegion} refused to take ${t.units} units of ${t.productId}: ${outcome.code}`);
    await afterStep?.("target-claimed", t);
  }
  await ledger.completed(t);
}

/**
 * The crash tests' hook (FLUX_GATE_TEST_HALT_AFTER): after `step` the driver never returns,
 * so the test can kill -9 the process exactly there. Unset, it is no hook at all.
 */
export function haltAfter(
  step: string | undefined,
  log: { warn(message: string, fields: Record<string, unknown>): void },
): MoveDeps["afterStep"] {
  if (step === undefined) return undefined;
  if (!(STEPS as readonly string[]).includes(step))
    throw new ConfigError(`FLUX_GATE_TEST_HALT_AFTER must be one of ${STEPS.join(", ")}, not "${step}"`);
  return async (reached, transfer) => {
    if (reached !== step) return;
    log.warn("halted for a crash test", { step, transferId: transfer.id });
    await new Promise(() => {});
  };
}
