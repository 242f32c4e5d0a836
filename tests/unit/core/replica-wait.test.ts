import { describe, expect, test } from "bun:test";
import { sharedWait } from "../../../core/reservation/replica-wait.ts";

/** A WAIT that answers when the test says, counting those not answered yet. */
function fakeWait() {
  const pending: ((replicas: number) => void)[] = [];
  return {
    waiting: () => pending.length,
    answer: (replicas = 1) => pending.shift()!(replicas),
    send: () => new Promise<number>((resolve) => pending.push(resolve)),
  };
}

describe("a WAIT shared by the reservations that need it at once", () => {
  test("alone: one WAIT, its answer", async () => {
    const wait = fakeWait();
    const shared = sharedWait(wait.send);
    const answer = shared();
    expect(wait.waiting()).toBe(1);
    wait.answer(1);
    expect(await answer).toBe(1);
  });

  test("those that come while a WAIT is on its way share the next one, sent after it answered", async () => {
    const wait = fakeWait();
    const shared = sharedWait(wait.send);
    const first = shared();
    const later = [shared(), shared(), shared()];
    // The one on its way may have left before their writes: none of them takes its answer.
    expect(wait.waiting()).toBe(1);
    wait.answer(1);
    expect(await first).toBe(1);
    await Bun.sleep(0);
    expect(wait.waiting()).toBe(1);
    wait.answer(0);
    expect(await Promise.all(later)).toEqual([0, 0, 0]);
    // Then the next comes alone again.
    const again = shared();
    wait.answer(1);
    expect(await again).toBe(1);
  });

  test("a failed WAIT fails its own callers only; the next one is still sent", async () => {
    let calls = 0;
    const shared = sharedWait(() => (++calls === 1 ? Promise.reject(new Error("timeout")) : Promise.resolve(1)));
    const first = shared();
    const second = shared();
    await expect(first).rejects.toThrow("timeout");
    expect(await second).toBe(1);
  });
});
