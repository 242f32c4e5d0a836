import { describe, expect, test } from "bun:test";
import { untilApplied } from "../../../worker/batch.ts";

const context = { heartbeat: async () => {} };

describe("a batch applied until it is", () => {
  test("a failed attempt is tried again; one that answers in time is never called stuck", async () => {
    let attempts = 0;
    let stuck = 0;
    const retries: number[] = [];
    await untilApplied(
      context,
      (_, attempt) => retries.push(attempt),
      { onStuck: () => stuck++, stuckAfterMs: 1_000 },
      async () => {
        if (++attempts < 2) throw new Error("database down");
      },
    );
    expect({ attempts, retries, stuck }).toEqual({ attempts: 2, retries: [1], stuck: 0 });
  });

  test("an attempt that never answers is called stuck once its time is up", async () => {
    let stuck = 0;
    let answer: () => void = () => {};
    const done = untilApplied(
      context,
      () => {},
      { onStuck: () => stuck++, stuckAfterMs: 20 },
      () => new Promise<void>((resolve) => (answer = resolve)),
    );
    await Bun.sleep(60);
    expect(stuck).toBe(1);
    answer();
    await done;
  });
});
