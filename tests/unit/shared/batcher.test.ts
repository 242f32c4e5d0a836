/** Smart batching (shared/batcher.ts): a lone item goes at once; the rest gather while batches are out. */
import { expect, test } from "bun:test";
import { batcher } from "../../../shared/batcher.ts";

/** A send whose batches the test answers by hand. */
function manual() {
  const sent: { items: number[]; answer(out: string[] | Error): void }[] = [];
  const send = (items: number[]) =>
    new Promise<string[]>((resolve, reject) =>
      sent.push({ items, answer: (out) => (out instanceof Error ? reject(out) : resolve(out)) }),
    );
  return { sent, send };
}
const tick = () => new Promise((r) => setTimeout(r, 0));

test("a lone item leaves at once; the ones that come while it is out leave together in the next batch", async () => {
  const { sent, send } = manual();
  const b = batcher({ send, maxBatch: 3, maxInFlight: 1 });
  const first = b.add(1);
  await tick();
  expect(sent.map((s) => s.items)).toEqual([[1]]);
  const rest = [2, 3, 4, 5].map((i) => b.add(i));
  await tick();
  expect(sent).toHaveLength(1);
  sent[0]!.answer(["one"]);
  expect(await first).toBe("one");
  await tick();
  expect(sent.map((s) => s.items)).toEqual([[1], [2, 3, 4]]);
  sent[1]!.answer(["two", "three", "four"]);
  await tick();
  expect(sent[2]!.items).toEqual([5]);
  sent[2]!.answer(["five"]);
  expect(await Promise.all(rest)).toEqual(["two", "three", "four", "five"]);
  expect(b.idle()).toBe(true);
});

test("items added in one task leave together; up to maxInFlight batches are out", async () => {
  const { sent, send } = manual();
  const b = batcher({ send, maxBatch: 2, maxInFlight: 2 });
  for (const i of [1, 2, 3, 4, 5]) void b.add(i);
  await tick();
  expect(sent.map((s) => s.items)).toEqual([
    [1, 2],
    [3, 4],
  ]);
});

test("a batch that fails, or answers other than one outcome per item, answers none of its items", async () => {
  const { sent, send } = manual();
  const b = batcher({ send, maxBatch: 10, maxInFlight: 1 });
  const failed = [1, 2].map((i) => b.add(i).catch((e: Error) => e.message));
  await tick();
  sent[0]!.answer(new Error("core went away"));
  expect(await Promise.all(failed)).toEqual(["core went away", "core went away"]);
  const short = [3, 4].map((i) => b.add(i).catch((e: Error) => e.message));
  await tick();
  sent[1]!.answer(["three"]);
  expect(await Promise.all(short)).toEqual([
    "a batch of 2 came back with 1 outcomes",
    "a batch of 2 came back with 1 outcomes",
  ]);
});

test("an item withdrawn before its batch leaves is never sent", async () => {
  const { sent, send } = manual();
  const b = batcher({ send, maxBatch: 10, maxInFlight: 1 });
  void b.add(1);
  await tick();
  void b.add(2);
  void b.add(3);
  expect(b.withdraw(2)).toBe(true);
  sent[0]!.answer(["one"]);
  await tick();
  expect(sent[1]!.items).toEqual([3]);
  expect(b.withdraw(3)).toBe(false);
});

test("an item still queued past its send-by time never leaves: it gets the late outcome", async () => {
  const sent: number[][] = [];
  const release: (() => void)[] = [];
  const b = batcher<number, string>({
    send: (items) => {
      sent.push(items);
      return new Promise((resolve) => release.push(() => resolve(items.map((i) => `sent ${i}`))));
    },
    maxBatch: 10,
    maxInFlight: 1,
    late: (i) => `late ${i}`,
  });
  const first = b.add(1);
  await Promise.resolve();
  const stale = b.add(2, performance.now() + 10);
  const fresh = b.add(3, performance.now() + 10_000);
  await new Promise((r) => setTimeout(r, 30));
  release.shift()!();
  expect(await first).toBe("sent 1");
  expect(await stale).toBe("late 2");
  await new Promise((r) => setTimeout(r, 0));
  release.shift()!();
  expect(await fresh).toBe("sent 3");
  expect(sent).toEqual([[1], [3]]);
});
