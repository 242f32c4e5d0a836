import { describe, expect, test } from "bun:test";
import { commitCoalescer } from "../../../shared/kafka.ts";

type Offsets = { topic: string; partition: number; offset: string }[];

describe("commitCoalescer", () => {
  test("batches that end while a commit is in flight share the next one; each waits for its own", async () => {
    const commits: Offsets[] = [];
    let release: () => void = () => {};
    const commit = commitCoalescer(async (offsets) => {
      commits.push(offsets);
      await new Promise<void>((resolve) => {
        release = resolve;
      });
    });
    const first = commit({ topic: "t", partition: 0, offset: "5" });
    await Bun.sleep(1);
    const second = commit({ topic: "t", partition: 1, offset: "9" });
    const third = commit({ topic: "t", partition: 1, offset: "12" });
    let secondDone = false;
    void second.then(() => {
      secondDone = true;
    });
    expect(commits).toEqual([[{ topic: "t", partition: 0, offset: "5" }]]);
    release();
    await first;
    await Bun.sleep(1);
    // The second commit carries both later batches, the highest offset of partition 1; not yet done.
    expect(commits[1]).toEqual([{ topic: "t", partition: 1, offset: "12" }]);
    expect(secondDone).toBe(false);
    release();
    await Promise.all([second, third]);
    expect(commits).toHaveLength(2);
  });

  test("a failed commit fails every batch it carried, and the next one commits again", async () => {
    let fail = true;
    const commits: Offsets[] = [];
    const commit = commitCoalescer(async (offsets) => {
      commits.push(offsets);
      if (fail) throw new Error("coordinator moved");
    });
    await expect(commit({ topic: "t", partition: 0, offset: "3" })).rejects.toThrow("coordinator moved");
    fail = false;
    await commit({ topic: "t", partition: 0, offset: "3" });
    expect(commits).toHaveLength(2);
  });
});
