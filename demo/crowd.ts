/**
 * A crowd in front of a waiting room (`npm run demo -- --crowd 10`, and the bench's room run):
 * buyers arrive open-loop, `multiple` times the room's admission rate (a fixed schedule,
 * whatever the edge answers), each behaving as the room's page does: order, and if given a
 * ticket look again as often as told, order once admitted, stop at sold out; retry what is
 * "not now" (429, 503, no answer) and queue again once an admission lapsed. Bounded in buyers
 * and in time. Reports the admitted buyers' order latency, every answer's latency, how long
 * after the last unit each queued buyer learned `sold_out`, and whether any place moved back.
 */

export interface CrowdOptions {
  edgeUrl: string;
  productId: string;
  /** The room's admissions per second (per region). */
  rate: number;
  /** Buyers arrive at `multiple` × `rate` per second. */
  multiple: number;
  buyers: number;
  /** The most the run may take after the last arrival. */
  drainSeconds: number;
  /** Buyer `i`'s own headers: who they are (a development header or a JWT), where they are. */
  headers: (i: number) => Promise<Record<string, string>>;
  /** After every answer, and after every buyer with how it ended (the live line). */
  onAnswer?: (status: number, ms: number) => void;
  onBuyer?: (end: BuyerEnd) => void;
}

export interface CrowdResult {
  figures: RoomFigures;
  /** The accepted orders' ids. */
  orderIds: string[];
  /** How each buyer's try ended. */
  ends: BuyerEnd[];
}

/** How a buyer's try ended: the last answer they acted on, or that the run's time ran out first. */
export interface BuyerEnd {
  status: number;
  /** The problem's `code`, when the answer was a problem. */
  code?: string;
  /** A waiting-room ticket's state, when the queue's answer was the last. */
  state?: string;
  /** The room had admitted the buyer before this answer. */
  admitted?: boolean;
  /** Still queued when the crowd's time was up. */
  timedOut?: boolean;
}

export interface RoomFigures {
  room_buyers: number;
  room_rate: number;
  room_crowd_per_s: number;
  /** Orders admitted (at once or from the queue) and answered 202. */
  room_orders: number;
  room_admitted_p99_ms: number;
  room_answer_p99_ms: number;
  room_answer_max_ms: number;
  room_soldout_notice_ms: number;
  room_told_sold_out: number;
  /** Buyers whose `ahead` ever grew: the place must only move forward. */
  room_places_backwards: number;
  /** Buyers still without an outcome when the run's time was up. */
  room_unfinished: number;
}

interface QueueAnswer {
  code?: string;
  ticket?: string;
  orderId?: string;
  state?: string;
  ahead?: number;
  pollAfterMs?: number;
  links?: { status: string; order: string };
}

const percentile = (values: number[], p: number) => {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return Number(sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!.toFixed(1));
};

export async function runCrowd(o: CrowdOptions): Promise<CrowdResult> {
  const crowd = o.rate * o.multiple;
  const buyers = o.buyers;
  const orderIds: string[] = [];
  const ends: BuyerEnd[] = [];
  const answers: number[] = [];
  const admittedOrders: number[] = [];
  const soldOutAt: number[] = [];
  let lastUnitAt = 0;
  let orders = 0;
  let backwards = 0;
  let unfinished = 0;
  const deadline = performance.now() + (buyers / crowd + o.drainSeconds) * 1000;

  async function timed(path: string, init?: RequestInit) {
    const t0 = performance.now();
    // No answer (the connection failed) is status 0: the buyer tries again as after a 503.
    const response = await fetch(o.edgeUrl + path, init).catch(() => undefined);
    const body = ((await response?.json().catch(() => ({}))) ?? {}) as QueueAnswer;
    const ms = performance.now() - t0;
    const status = response?.status ?? 0;
    answers.push(ms);
    o.onAnswer?.(status, ms);
    const retryAfter = Number(response?.headers.get("Retry-After") ?? 1) * 1000;
    return { status, body, ms, at: performance.now(), retryAfterMs: Number.isFinite(retryAfter) ? retryAfter : 1_000 };
  }
  const ended = (answer: { status: number; body: QueueAnswer }, more: Partial<BuyerEnd> = {}): BuyerEnd => ({
    status: answer.status,
    ...(answer.body.code ? { code: answer.body.code } : {}),
    ...more,
  });
  /** Not refused, only not now: worth the same request again after a while. */
  const notNow = (status: number) => status === 0 || status === 429 || status === 503;

  const placed = (ms: number, at: number, orderId: string): BuyerEnd => {
    orderIds.push(orderId);
    admittedOrders.push(ms);
    orders++;
    lastUnitAt = Math.max(lastUnitAt, at);
    return { status: 202 };
  };

  async function buyer(i: number): Promise<BuyerEnd> {
    const headers = await o.headers(i);
    // Each pass is one place in the queue: a new key takes a new one, as the page tells a buyer
    // whose admission lapsed ("order again to join the queue").
    for (;;) {
      const key = crypto.randomUUID();
      const enter = () =>
        timed("/v1/orders", {
          method: "POST",
          headers: { "Content-Type": "application/json", "Idempotency-Key": key, ...headers },
          body: JSON.stringify({ productId: o.productId, quantity: 1 }),
        });
      let first = await enter();
      // A shed room (503 overloaded), a rate limit, a blink, or the key still held by a try whose
      // answer was lost (409 idempotency_key_in_use): the same key after Retry-After.
      const again = (a: typeof first) => notNow(a.status) || a.body.code === "idempotency_key_in_use";
      while (again(first) && performance.now() + first.retryAfterMs < deadline) {
        await Bun.sleep(first.retryAfterMs);
        first = await enter();
      }
      if (first.status === 202 && first.body.orderId) return placed(first.ms, first.at, first.body.orderId);
      if (!first.body.ticket || !first.body.links) return ended(first);
      let { links } = first.body;
      let ahead = first.body.ahead ?? 0;
      let wait = first.body.pollAfterMs ?? 500;
      let lapsed = false;
      while (!lapsed && performance.now() < deadline) {
        await Bun.sleep(wait);
        const look = await timed(links.status);
        // As the page: a look that failed is looked again a second later; 404 is a ticket no edge knows.
        wait = look.body.pollAfterMs ?? 1_000;
        if (look.status === 404) return ended(look, { state: "invalid" });
        if (look.status !== 200) continue;
        if (look.body.ahead !== undefined && look.body.state === "waiting") {
          if (look.body.ahead > ahead) backwards++;
          ahead = look.body.ahead;
        }
        switch (look.body.state) {
          case "waiting":
          case "lobby":
            break;
          case "admitted": {
            const order = await timed(links.order, { method: "POST" });
            if (order.status === 202 && order.body.orderId) return placed(order.ms, order.at, order.body.orderId);
            // Queued again in another region: follow that ticket from its own place.
            if (order.status === 202 && order.body.ticket && order.body.links) {
              links = order.body.links;
              ahead = order.body.ahead ?? 0;
              wait = order.body.pollAfterMs ?? 500;
              break;
            }
            // As the page: the admission still stands, so look again and order again.
            if (notNow(order.status) || order.body.code === "idempotency_key_in_use") break;
            return ended(order, { admitted: true });
          }
          case "sold_out":
            soldOutAt.push(look.at);
            return ended(look, { state: "sold_out" });
          case "expired":
            lapsed = true;
            break;
          default:
            return ended(look, { state: look.body.state ?? "none" });
        }
      }
      if (!lapsed) {
        unfinished++;
        return { status: 0, timedOut: true };
      }
    }
  }

  const started = performance.now();
  const running: Promise<void>[] = [];
  for (let i = 0; i < buyers; i++) {
    const due = started + (i * 1000) / crowd;
    const now = performance.now();
    if (due > now) await Bun.sleep(due - now);
    running.push(
      buyer(i).then((end) => {
        ends.push(end);
        o.onBuyer?.(end);
      }),
    );
  }
  await Promise.all(running);

  // Told after the last unit went: the buyers still queued then.
  const notices = soldOutAt.filter((t) => t >= lastUnitAt).map((t) => t - lastUnitAt);
  const figures = {
    room_buyers: buyers,
    room_rate: o.rate,
    room_crowd_per_s: crowd,
    room_orders: orders,
    room_admitted_p99_ms: percentile(admittedOrders, 99),
    room_answer_p99_ms: percentile(answers, 99),
    room_answer_max_ms: percentile(answers, 100),
    room_soldout_notice_ms: notices.length ? Math.round(Math.max(...notices)) : 0,
    room_told_sold_out: soldOutAt.length,
    room_places_backwards: backwards,
    room_unfinished: unfinished,
  };
  return { figures, orderIds, ends };
}
