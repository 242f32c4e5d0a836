/**
 * How the edge asks a region's core to reserve an order. The Bun and Deno edges gather a region's
 * reservations into batches (smart batching, shared/batcher.ts): a lone order goes at once; while
 * batches are out, the orders that come wait and leave together in the next one, signed once
 * (POST /v1/reservations/batch). Each caller gets its own order's outcome, with the status and body
 * the single route gives, or, when the batch came to nothing (no answer in time, a 5xx, a 401 or
 * 403), the same non-answer a single request would have got: the order is unsettled, and the retry
 * rules of edge/orders.ts handle it. Workers keep one request per order: a fetch begun for one
 * request must not answer another's.
 */
import { reach, tracing, type CoreAnswer, type CoreClient, type Reached } from "../core/http/client.ts";
import type { Region } from "../shared/config.ts";
import { batcher, type Batcher } from "../shared/batcher.ts";

type ReserveCall = CoreClient["v1"]["reservations"]["$post"];
/** A reservation as the edge sends it (core/http/routes.ts). */
export type ReservationBody = Parameters<ReserveCall>[0]["json"];
/** A core's word on one reservation, or why there is none. */
export type ReservationAnswer = Reached<Awaited<ReturnType<ReserveCall>>>;

/** Asks `region` to reserve one order; the answer comes within the core's deadline. */
export type Reserver = (region: Region, reservation: ReservationBody, requestId?: string) => Promise<ReservationAnswer>;

/** One request per order (the Workers edge, and a batch's fallback). */
export function perOrder(core: (region: Region) => CoreClient): Reserver {
  return (region, reservation, requestId) =>
    reach(() => core(region).v1.reservations.$post({ json: reservation }, tracing(requestId)));
}

export interface BatchSettings {
  /** Each caller's deadline (ms): past it the order is unsettled for the caller, as a single request's timeout. */
  timeoutMs: number;
  /** Reservations per batch (at most the core's RESERVATION_BATCH_MAX). */
  maxBatch: number;
  /** Batches out at once to one region. */
  maxInFlight: number;
}

/**
 * Two batches of up to 128 carry as many orders per round trip as four of 64 (a far region's
 * ceiling, 256 orders a round trip, stays), in fuller batches: on `npm start` under load
 * ~20 % less CPU an order across the pipeline and ~20 % more orders a second (docs/benchmarks.md).
 */
export const BATCH_DEFAULTS = { maxBatch: 128, maxInFlight: 2 } as const;

/**
 * An order still queued past this share of its caller's deadline is not sent: the rest must hold
 * a batch's round trip, or the core would reserve it after its caller was told "no answer".
 */
const SEND_BY_SHARE = 0.5;

/**
 * The batch's statuses that say nothing about any one order and reserved none: the core does not
 * know the route (an older core), or did not take the batch as a whole (400, 413). Its orders
 * then go one by one, each to get its own answer.
 */
const ONE_BY_ONE = new Set([400, 404, 413]);

/** A region's reservations gathered into batches, one batcher per region. */
export function batched(core: (region: Region) => CoreClient, settings: BatchSettings): Reserver {
  const single = perOrder(core);
  const regions = new Map<string, Batcher<ReservationBody, ReservationAnswer>>();

  const sendBatch = (region: Region) => async (reservations: ReservationBody[]) => {
    // A lone order takes the single route: the same answer, a smaller request.
    if (reservations.length === 1) return [await single(region, reservations[0]!)];
    const answer = await reach(() => core(region).v1.reservations.batch.$post({ json: { reservations } }));
    if (answer.kind === "answer" && answer.status === 200) {
      const { outcomes } = answer.body;
      // Not one outcome per order: none of them can be trusted to be that order's.
      if (outcomes.length !== reservations.length)
        return reservations.map(() => unsettled(`a batch of ${reservations.length} got ${outcomes.length} outcomes`));
      return outcomes.map((o) => ({ kind: "answer", status: o.status, body: o.body }) as ReservationAnswer);
    }
    if (answer.kind === "answer" && ONE_BY_ONE.has(answer.status))
      return Promise.all(reservations.map((r) => single(region, r)));
    // Timeout, unreachable, 5xx, 401/403: the batch's non-answer is each order's.
    return reservations.map(() => answer as CoreAnswer as ReservationAnswer);
  };

  const of = (region: Region) => {
    let b = regions.get(region.id);
    if (!b) {
      b = batcher({
        send: sendBatch(region),
        maxBatch: settings.maxBatch,
        maxInFlight: settings.maxInFlight,
        late: () => unsettled("not sent: the region's queue held it past half its deadline"),
      });
      regions.set(region.id, b);
    }
    return b;
  };

  return (region, reservation) => {
    const b = of(region);
    let timer: ReturnType<typeof setTimeout> | undefined;
    // The caller's own deadline, from when it asked: a batch it waited for counts against it.
    const deadline = new Promise<ReservationAnswer>((resolve) => {
      timer = setTimeout(() => {
        // Still waiting: it never leaves. Already sent: the core may reserve it; unsettled either way.
        b.withdraw(reservation);
        resolve({ kind: "timeout" });
      }, settings.timeoutMs);
    });
    const outcome = b
      .add(reservation, performance.now() + settings.timeoutMs * SEND_BY_SHARE)
      .catch((error: unknown) => unsettled(String(error)));
    return Promise.race([outcome, deadline]).finally(() => clearTimeout(timer));
  };
}

const unsettled = (error: string): ReservationAnswer => ({ kind: "unreachable", error });
