/**
 * Allocation change ids: each step of a transfer in the admin's ledger changes one region's
 * allocation once, under an id that names the transfer, so a core can ask the ledger about it.
 */
export type TransferStep = "release" | "claim";

export const allocationChangeId = (transferId: string, step: TransferStep) => `${transferId}/${step}`;

/** The transfer a change id belongs to, or undefined for an id the ledger did not make. */
export const transferOfChange = (changeId: string): string | undefined =>
  /^([0-9a-f-]{36})\/(?:release|claim)$/.exec(changeId)?.[1];
