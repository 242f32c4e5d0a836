/**
 * The edge's batching (edge/reservations.ts, shared/batcher.ts) past its throughput: a core that
 * answers every request in 200 ms, well within the edge's 1 s deadline. The batcher carries at
 * most maxInFlight × maxBatch orders per round trip (2 × 64 / 0.2 s = 640 orders/s here); past
 * that its queue fills. Before the fix an order left after waiting nearly its whole deadline: the
 * core reserved it, and its caller had already been told "timeout" (1,487 of 3,900 in the
 * review's run). Now an order still queued past half its deadline is never sent.
 */
import { expect, test } from "bun:test";
import type { CoreClient } from "../../../core/http/client.ts";
import type { Region } from "../../../shared/config.ts";
import { batched, type ReservationAnswer, type ReservationBody } from "../../../edge/reservations.ts";

const CORE_MS = 200;
const DEADLINE_MS = 1_000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A core that reserves every order it is sent, answering after CORE_MS. */
function stubCore(reserved: Set<string>) {
  const outcome = (r: ReservationBody) => {
    reserved.add(r.orderId);
    return { status: 202, body: { orderId: r.orderId, status: "reserved", replayed: false } };
  };
  const client = {
    v1: {
      reservations: {
        $post: async ({ json }: { json: ReservationBody }) => {
          await sleep(CORE_MS);
          const o = outcome(json);
          return Response.json(o.body, { status: o.status });
        },
        batch: {
          $post: async ({ json }: { json: { reservations: ReservationBody[] } }) => {
            await sleep(CORE_MS);
            return Response.json({ outcomes: json.reservations.map(outcome) }, { status: 200 });
          },
        },
      },
    },
  };
  return () => client as unknown as CoreClient;
}

test("under twice the batcher's throughput, an order the core reserved in 200 ms is not answered 'timeout' (1 s deadline)", async () => {
  const reserved = new Set<string>();
  const reserveAt = batched(stubCore(reserved), { timeoutMs: DEADLINE_MS, maxBatch: 64, maxInFlight: 2 });
  const region = { id: "r1" } as Region;
  const answers: Promise<[string, ReservationAnswer]>[] = [];
  // 1,300 orders/s for 3 s: 13 every 10 ms.
  for (let tick = 0; tick < 300; tick++) {
    for (let i = 0; i < 13; i++) {
      const r: ReservationBody = {
        orderId: crypto.randomUUID(),
        userId: `u-${tick}-${i}`,
        productId: "p",
        quantity: 1,
        originRegion: "r1",
        notAfter: Date.now() + 30_000,
      };
      answers.push(reserveAt(region, r).then((a) => [r.orderId, a]));
    }
    await sleep(10);
  }
  const settled = await Promise.all(answers);
  const answered = settled.filter(([, a]) => a.kind === "answer").length;
  // Reserved at the core, yet its caller got no answer: the buyer sees 503 for an order it holds.
  const reservedButTimedOut = settled.filter(([id, a]) => a.kind === "timeout" && reserved.has(id)).length;
  console.log({ offered: settled.length, sentToCore: reserved.size, answered, reservedButTimedOut });
  expect(reservedButTimedOut).toBe(0);
}, 30_000);
