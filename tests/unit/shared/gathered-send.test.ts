/**
 * A connection's commands in groups (shared/gathered-send.ts): which leave together, in what
 * order, and that each gets its own reply, its own error, and none leaves after its deadline.
 */
import { expect, test } from "bun:test";
import { gatheredSend } from "../../../shared/gathered-send.ts";
import type { RespArg } from "../../../shared/lua.ts";
import { within } from "../../../shared/redis.ts";

/** A client whose replies the test gives by hand, noting the tick each command was written in. */
function client() {
  const written: { command: RespArg[]; tick: number }[] = [];
  const pending = new Map<string, { resolve(v: unknown): void; reject(e: unknown): void }>();
  let tick = 0;
  const send = (command: RespArg[]) =>
    new Promise<unknown>((resolve, reject) => {
      written.push({ command, tick });
      pending.set(String(command[1]), { resolve, reject });
    });
  const nextTick = async () => {
    await new Promise((r) => setTimeout(r, 0));
    tick++;
  };
  return { written, pending, send, nextTick, names: () => written.map((w) => w.command[1]) };
}

test("a lone command leaves at once; those sent while two groups are out leave in one tick, in order", async () => {
  const c = client();
  const send = gatheredSend(c.send, { maxInFlight: 2, timeoutMs: 1_000 });
  const a = send(["GET", "a"]);
  await c.nextTick();
  const b = send(["GET", "b"]);
  await c.nextTick();
  expect(c.names()).toEqual(["a", "b"]);
  // Two groups are out: these wait, though each is sent in a tick of its own.
  const rest: Promise<unknown>[] = [];
  for (const key of ["c", "d", "e"]) {
    rest.push(send(["GET", key]));
    await c.nextTick();
  }
  expect(c.names()).toEqual(["a", "b"]);
  c.pending.get("a")!.resolve("A");
  expect(await a).toBe("A");
  await c.nextTick();
  expect(c.names()).toEqual(["a", "b", "c", "d", "e"]);
  const [, , ...gathered] = c.written;
  expect(new Set(gathered.map((w) => w.tick)).size).toBe(1);
  c.pending.get("b")!.resolve("B");
  for (const key of ["c", "d", "e"]) c.pending.get(key)!.resolve(key.toUpperCase());
  expect(await b).toBe("B");
  expect(await Promise.all(rest)).toEqual(["C", "D", "E"]);
});

test("an error answers its own command only, and the group's others get their replies", async () => {
  const c = client();
  const send = gatheredSend(c.send, { maxInFlight: 1, timeoutMs: 1_000 });
  const first = send(["GET", "first"]);
  await c.nextTick();
  const x = send(["GET", "x"]);
  const y = send(["EVALSHA", "y"]).catch((e: Error) => e);
  const z = send(["GET", "z"]);
  c.pending.get("first")!.resolve(1);
  expect(await first).toBe(1);
  await c.nextTick();
  expect(c.names()).toEqual(["first", "x", "y", "z"]);
  // Each reply reaches its caller as it comes, not when its group's last one does.
  c.pending.get("x")!.resolve("X");
  expect(await x).toBe("X");
  c.pending.get("y")!.reject(new Error("NOSCRIPT No matching script"));
  c.pending.get("z")!.resolve("Z");
  expect(String(await y)).toContain("NOSCRIPT");
  expect(await z).toBe("Z");
});

test("a command still waiting past its deadline is never written: its caller was told there was no answer", async () => {
  const c = client();
  const send = gatheredSend(c.send, { maxInFlight: 1, timeoutMs: 20 });
  const stuck = send(["GET", "stuck"]);
  await c.nextTick();
  const late = send(["SET", "late"]).catch((e: Error) => e);
  // A loop too busy to turn (a flood): by the next flush its deadline has passed.
  const busyUntil = Date.now() + 40;
  while (Date.now() < busyUntil);
  const fresh = send(["GET", "fresh"]);
  c.pending.get("stuck")!.resolve("S");
  await stuck;
  await c.nextTick();
  expect(c.names()).toEqual(["stuck", "fresh"]);
  expect(String(await late)).toContain("Redis was not sent SET within 20 ms");
  c.pending.get("fresh")!.resolve("F");
  expect(await fresh).toBe("F");
});

test("groups a stalled connection never answers free their places at the deadline: later commands are written", async () => {
  const c = client();
  const send = gatheredSend(c.send, { maxInFlight: 2, timeoutMs: 20 });
  void send(["GET", "lost-1"]).catch(() => {});
  await c.nextTick();
  void send(["GET", "lost-2"]).catch(() => {});
  await c.nextTick();
  await new Promise((r) => setTimeout(r, 40));
  const after = send(["GET", "after"]);
  await c.nextTick();
  expect(c.names()).toEqual(["lost-1", "lost-2", "after"]);
  c.pending.get("after")!.resolve("A");
  expect(await after).toBe("A");
});

test("a far Redis under a flood: every command answered within its deadline (groups are not capped)", async () => {
  // 100 ms away, answering whatever it is written; ~60 commands a millisecond, each in its own
  // tick, for 1.5 s. A group capped at 1,024 carried at most 2 × 1,024 a round trip: the queue
  // grew to its deadline and most callers were told "no answer" of commands Redis then ran.
  const ROUND_TRIP_MS = 100;
  const DEADLINE_MS = 500;
  let written = 0;
  const far = (_: RespArg[]) => {
    written++;
    return new Promise((resolve) => setTimeout(() => resolve("OK"), ROUND_TRIP_MS));
  };
  const send = gatheredSend(far, { maxInFlight: 2, timeoutMs: DEADLINE_MS });
  const outcomes: Promise<boolean>[] = [];
  const start = performance.now();
  while (performance.now() - start < 1_500) {
    for (let i = 0; i < 60; i++)
      outcomes.push(
        within(send(["EVALSHA", "admit"]), DEADLINE_MS).then(
          () => true,
          () => false,
        ),
      );
    await Bun.sleep(1);
  }
  const answered = (await Promise.all(outcomes)).filter(Boolean).length;
  expect(answered).toBe(outcomes.length);
  expect(written).toBe(outcomes.length);
}, 10_000);
