/**
 * Smart batching of one connection's commands (shared/batcher.ts): a command that finds fewer
 * than `maxInFlight` groups unanswered leaves at once; otherwise it waits, and when a group is
 * answered everything that waited leaves in one tick. A client that writes one tick's commands
 * in one write (Bun's own, ioredis with auto-pipelining) then makes one system call where it
 * made one per command, on both ends of the socket: under load, commands of concurrent
 * requests arrive a tick apart, so without this each went alone (docs/benchmarks.md).
 * Commands leave in the order they were sent, each with its own reply or error. Pure.
 */
import { batcher } from "./batcher.ts";
import type { RespArg, RespSend } from "./lua.ts";

export interface GatherSettings {
  /** Groups out at once: a lone command waits for none while fewer are out. */
  maxInFlight: number;
  /**
   * The caller's deadline (ms): a command still waiting here past it is never written. (One
   * written while the connection is down waits in the client's own queue, as without gathering.)
   */
  timeoutMs: number;
}

/** Two groups out: under load each round trip carries what came during the other's. */
export const GATHER_DEFAULTS = { maxInFlight: 2 } as const;

/** A command waiting for its group, and where its reply goes once it is written. */
interface Waiting {
  command: RespArg[];
  written(reply: Promise<unknown>): void;
}

export function gatheredSend(send: RespSend, { maxInFlight, timeoutMs }: GatherSettings): RespSend {
  const groups = batcher<Waiting, void>({
    // Written in one tick, so the client writes them together. Each caller has its own reply as
    // it comes; the group counts as out until its last one, or its deadline: a connection that
    // never answers (a stalled region, a lost peer) must not hold the next groups for ever.
    send: async (group) => {
      const replies = group.map((w) => {
        const reply = send(w.command);
        w.written(reply);
        return reply;
      });
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([
        Promise.allSettled(replies),
        new Promise((resolve) => {
          timer = setTimeout(resolve, timeoutMs);
        }),
      ]);
      clearTimeout(timer);
      return group.map(() => undefined);
    },
    // No cap: a group takes all that waited, so a far Redis's round trip never caps the rate
    // (with a cap, the queue grew to its deadline under a flood: tests/unit/shared/gathered-send.test.ts).
    maxBatch: Number.POSITIVE_INFINITY,
    maxInFlight,
    // Its caller has been told Redis did not answer: writing it now would act behind its back.
    late: (w) =>
      w.written(Promise.reject(new Error(`Redis was not sent ${String(w.command[0])} within ${timeoutMs} ms`))),
  });
  return (command) =>
    new Promise((resolve, reject) => {
      groups
        .add({ command, written: (reply) => reply.then(resolve, reject) }, performance.now() + timeoutMs)
        .catch(reject);
    });
}
