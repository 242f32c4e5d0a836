/**
 * The order routes' work, after validation and identity: admission in the buyer's home region
 * (rate limit, Idempotency-Key, allowance: one round trip), the cores in order with spillover,
 * the answer, then the completion under the key once the answer is on its way.
 */
import type { Context } from "hono";
import type { Config, Region } from "../shared/config.ts";
import type { Logger } from "../shared/log.ts";
import { reach, tracing, type CoreClient } from "../core/http/client.ts";
import type { CoreOrder } from "../core/http/routes.ts";
import { problem } from "../shared/problems.ts";
import type { Admission, AdmissionRequest, Completion } from "./admission/admission.ts";
import { fromCore, problemAnswer, queueAnswer, replayed, storedAnswer, unavailable, type Answer } from "./answers.ts";
import type { Home } from "./home/homes.ts";
import type { RateLimiter, Verdict } from "./middleware/rate-limit/index.ts";
import { deriveOrderId } from "./order-id.ts";
import { resumeOrder } from "./regions.ts";
import type { Reserver } from "./reservations.ts";
import type { SaleTerms, SaleTermsCache } from "./sale-terms.ts";
import type { WaitingRoom } from "./room/waiting-room.ts";
import { reserveInTurn, UNCERTAIN_WINDOW_MS } from "./spillover.ts";

/** How long after its sale a buyer's allowance is kept: late cancels and expiries still find it. */
const ALLOWANCE_GRACE_MS = 86_400_000;
const BACKGROUND_TRIES = 3;

export interface OrderDeps {
  config: Config;
  homes: Map<string, Home>;
  /** Each region's core, typed by its routes. */
  core: (region: Region) => CoreClient;
  /** Reserves one order at a region's core: batched with others (Bun, Deno) or alone (Workers). */
  reserveAt: Reserver;
  userLimiter: RateLimiter;
  terms: SaleTermsCache;
  /** The waiting room, for products whose room is on. */
  room: WaitingRoom;
  log: Logger;
}

/** The caller's order, from the region that serves it, or the answer instead. */
type Found = { kind: "found"; region: Region; order: CoreOrder } | { kind: "answer"; answer: Answer };

/** The whole validated request, short enough to keep as it is. */
const fingerprintOf = (productId: string, quantity: number) => `POST /v1/orders ${productId} ${quantity}`;

export function orderService({ config, homes, core, reserveAt, userLimiter, terms, room, log }: OrderDeps) {
  const { edge } = config;
  const byId = new Map(config.regions.map((r) => [r.id, r]));
  /** The buyer's home, as identity (or the ticket acting for the buyer) resolved it. */
  const home = (c: Context): Home => homes.get(c.get("homeRegion"))!;
  /** After the answer: tried three times (each of these calls is idempotent), then logged. */
  const inBackground = (c: Context, what: string, work: () => Promise<unknown>) =>
    c.executionCtx.waitUntil(
      (async () => {
        for (let attempt = 1; ; attempt++) {
          try {
            return await work();
          } catch (error) {
            if (attempt === BACKGROUND_TRIES)
              return log.error(`${what} failed`, { requestId: c.get("requestId"), error: String(error) });
            await new Promise((r) => setTimeout(r, 100 * 4 ** attempt));
          }
        }
      })(),
    );

  /** The room's word on an order: the region whose room let it in, or the answer instead. */
  async function enterRoom(
    c: Context,
    request: AdmissionRequest,
    sale: SaleTerms,
    preferred: Region[],
  ): Promise<{ kind: "admitted"; region: Region } | { kind: "answer"; answer: Answer }> {
    const { orderId: id, userId, productId, quantity, idempotencyKey } = request;
    const intent = { id, userId, homeRegion: c.get("homeRegion"), productId, quantity, idempotencyKey };
    const entry = await room.enter(intent, sale, preferred).catch((error: unknown) => error as Error);
    const answer = (a: Answer) => ({ kind: "answer" as const, answer: a });
    if (entry instanceof Error) {
      log.warn("the waiting room did not answer", { requestId: c.get("requestId"), error: String(entry) });
      return answer(unavailable("the waiting room did not answer; retry with the same Idempotency-Key"));
    }
    switch (entry.kind) {
      case "admitted":
        return entry;
      case "queued":
        return answer(queueAnswer(entry));
      case "shed":
        return answer(
          problemAnswer(
            problem("overloaded", "the sale takes orders at its admission rate; retry with the same Idempotency-Key"),
            { "Retry-After": "1" },
          ),
        );
      case "reused":
        return answer(
          problemAnswer(problem("idempotency_key_reused", "this key took its place in the queue for other units")),
        );
      case "limit":
        return answer(
          problemAnswer(
            problem("user_limit_exceeded", `at most ${sale.perUserLimit} places in the queue per buyer: one per unit`),
          ),
        );
      case "expired":
        return answer(problemAnswer(problem("admission_expired", "order with a new Idempotency-Key to queue again")));
      case "sold_out":
        return answer(problemAnswer(problem("sold_out", "no region has units left")));
    }
  }

  const rateLimited = (verdict: Verdict) => {
    const refused = verdict.refusal();
    return problemAnswer(refused.body, refused.headers);
  };

  /**
   * `ticketRoom`: the order of a ticket that region's room admitted (POST /v1/queue/{ticket}/order),
   * which the buyer's rate limit does not refuse: the room's rate is the limit.
   */
  async function place(
    c: Context,
    productId: string,
    quantity: number,
    preferred: Region[],
    { ticketRoom }: { ticketRoom?: Region } = {},
  ): Promise<Answer> {
    const userId: string = c.get("userId");
    const { redis, admission: store } = home(c);
    // Every order counts against its buyer's rate limit but a ticket's and a known room
    // product's (its room is the limit), and it counts before any core is asked about the
    // product: made-up product ids cost the cores no more than the limit lets through.
    const seen = terms.peek(productId);
    const roomKnown = seen?.terms !== undefined && seen.terms.roomMode !== "off";
    let limit = ticketRoom || roomKnown ? undefined : userLimiter(redis.ratelimit, userId);
    if (seen?.terms === undefined && limit) {
      const verdict = await limit;
      if (!verdict.success) return rateLimited(verdict);
      // Its home region is where the admission goes next: silent now, it would cost a second wait.
      if (!verdict.answered)
        return unavailable("the buyer's home region did not answer; retry with the same Idempotency-Key");
      limit = Promise.resolve(verdict);
    }
    const sale = await terms.get(productId);
    if (sale === "unavailable") return unavailable("no region answered for the product");
    if (!sale) return problemAnswer(problem("unknown_product", `${productId} is not on sale in any region`));
    if (quantity < 1 || quantity > sale.maxPerOrder)
      return problemAnswer(problem("invalid_quantity", `1 to ${sale.maxPerOrder} units per order`));
    const idempotencyKey: string = c.get("idempotencyKey");
    const orderId = deriveOrderId(edge.orderIdSecret, userId, idempotencyKey);
    // Behind a room no region is named until the room says which.
    const firstRegion = sale.roomMode === "off" ? preferred[0]!.id : "";
    const request = admissionRequest(userId, idempotencyKey, orderId, productId, quantity, sale, firstRegion);
    const [verdict, admission] = await Promise.all([
      limit,
      store.admit(request).catch((error: unknown) => error as Error),
    ]);
    if (admission instanceof Error) {
      log.warn("home region did not answer", { requestId: c.get("requestId"), error: String(admission) });
      return unavailable("the buyer's home region did not answer; retry with the same Idempotency-Key");
    }
    if (verdict && !verdict.success) {
      if (admission.kind === "new" || admission.kind === "resume")
        inBackground(c, "rate-limited admission", () =>
          store.complete(request, { outcome: admission.kind === "new" ? "forget" : "unsettled" }),
        );
      return rateLimited(verdict);
    }
    // A ticket's admission refused at home (the buyer's limit, reached by another order) will
    // never order: its units and its buyer's place go back to the room now, not when it lapses.
    if (ticketRoom && admission.kind === "limit")
      inBackground(c, "ticket's admission given back", () =>
        room.use(ticketRoom, productId, orderId, { ordered: false }),
      );
    const answer = await admitted(c, request, admission, preferred, sale);
    return { ...answer, headers: { ...answer.headers, ...verdict?.headers } };
  }

  function admissionRequest(
    userId: string,
    idempotencyKey: string,
    orderId: string,
    productId: string,
    quantity: number,
    sale: SaleTerms,
    firstRegion: string,
  ): AdmissionRequest {
    return {
      userId,
      idempotencyKey,
      fingerprint: fingerprintOf(productId, quantity),
      token: crypto.randomUUID(),
      orderId,
      productId,
      quantity,
      perUserLimit: sale.perUserLimit,
      firstRegion,
      allowanceExpiresAt: Date.parse(sale.endsAt) + ALLOWANCE_GRACE_MS,
    };
  }

  /**
   * Which regions an admitted order asks, in order. One rule for every way in (a room, a ticket,
   * X-Region, a country, spillover): a retry of an order a region may hold asks that region
   * first, whatever now points elsewhere; behind a room, that region alone, and a new order goes
   * where the room admits it, or nowhere.
   */
  async function regionsFor(
    c: Context,
    request: AdmissionRequest,
    admission: Extract<Admission, { kind: "new" | "resume" }>,
    preferred: Region[],
    sale: SaleTerms,
  ): Promise<{ kind: "regions"; regions: Region[]; room: boolean } | { kind: "answer"; answer: Answer }> {
    const tried = admission.kind === "resume" ? admission.tried : [];
    const held = byId.get(tried.at(-1) ?? "");
    const room = sale.roomMode !== "off";
    if (held && room) return { kind: "regions", regions: [held], room };
    if (held) {
      const order = resumeOrder(tried, [held.id, ...preferred.map((r) => r.id)]);
      return { kind: "regions", regions: order.map((id) => byId.get(id)!), room };
    }
    if (!room) return { kind: "regions", regions: preferred, room };
    const entry = await enterRoom(c, request, sale, preferred);
    if (entry.kind === "admitted") return { kind: "regions", regions: [entry.region], room };
    // Not let in: the key goes as if this request never came (nothing was asked of any region),
    // so the buyer's allowance is not held by a place in a queue.
    inBackground(c, "admission let go", () => home(c).admission.complete(request, { outcome: "forget" }));
    return entry;
  }

  async function admitted(
    c: Context,
    request: AdmissionRequest,
    admission: Admission,
    preferred: Region[],
    sale: SaleTerms,
  ): Promise<Answer> {
    switch (admission.kind) {
      case "replay":
        return replayed(admission);
      case "in_flight":
        return problemAnswer(problem("idempotency_key_in_use", "a request with this key is still being served"), {
          "Retry-After": String(Math.max(1, Math.ceil(admission.retryAfterMs / 1000))),
        });
      case "reused":
        return problemAnswer(problem("idempotency_key_reused"));
      case "limit":
        return problemAnswer(
          problem(
            "user_limit_exceeded",
            `${admission.counted} of at most ${request.perUserLimit} units are yours already, across all regions`,
          ),
        );
    }
    const regions = await regionsFor(c, request, admission, preferred, sale);
    if (regions.kind === "answer") return regions.answer;
    const attempt = await reserveInTurn(
      { reserveAt, store: home(c).admission },
      { request, admission, homeRegion: c.get("homeRegion"), requestId: c.get("requestId") },
      regions.regions,
    );
    if (edge.testHalt === "core-answered") await new Promise(() => {});
    const complete = (completion: Completion) =>
      inBackground(c, "completion", () => home(c).admission.complete(request, completion));
    if (regions.room) {
      // The units the admission kept aside go back to the room; a refusal gives the buyer's place back too.
      const [region] = regions.regions;
      const ordered = attempt.kind !== "refused";
      inBackground(c, "room admission used", () => room.use(region!, request.productId, request.orderId, { ordered }));
    }
    switch (attempt.kind) {
      case "lost":
        return problemAnswer(problem("idempotency_key_in_use", "another request with this key took over"), {
          "Retry-After": "1",
        });
      case "uncertain":
        complete({ outcome: "unsettled", restoreSent: attempt.restoreSent });
        return unavailable(
          "the region asked before has not settled this order yet; retry with the same Idempotency-Key",
          Math.ceil(UNCERTAIN_WINDOW_MS / 1000),
        );
      case "unsettled":
        complete({ outcome: "unsettled" });
        return fromCore(attempt.answer);
      case "served":
        complete({
          outcome: "served",
          answer: storedAnswer(attempt.answer),
          region: String(attempt.answer.body.region),
        });
        return fromCore(attempt.answer);
      case "refused":
        complete({ outcome: "refused", answer: storedAnswer(attempt.answer) });
        return fromCore(attempt.answer);
    }
  }

  /** The caller's order, from the region that serves it: the home region's note, else the cores' own word. */
  async function find(c: Context, id: string, preferred: Region[]): Promise<Found> {
    const userId: string = c.get("userId");
    const noted = await home(c)
      .admission.servedAt(userId, id)
      .catch(() => undefined);
    const asked = new Set<string>();
    const candidates = [...(noted && byId.has(noted.region) ? [byId.get(noted.region)!] : []), ...preferred];
    /** Region → the order's product, where known: the core finds a live order by it. */
    const products = new Map(noted ? [[noted.region, noted.productId]] : []);
    for (const region of candidates) {
      if (asked.has(region.id)) continue;
      asked.add(region.id);
      const answer = await reach(() =>
        core(region).v1.orders[":id"].$get(
          { param: { id }, query: { productId: products.get(region.id) } },
          tracing(c.get("requestId")),
        ),
      );
      if (answer.kind !== "answer") return { kind: "answer", answer: fromCore(answer) };
      if (answer.status !== 200 || answer.body.userId !== userId) continue;
      // A region may know another region's order from PostgreSQL: the one that serves it has it live.
      const holder = byId.get(answer.body.region) ?? region;
      if (holder.id !== region.id && !asked.has(holder.id)) {
        products.set(holder.id, answer.body.productId);
        candidates.push(holder);
      } else return { kind: "found", region: holder, order: answer.body };
    }
    return { kind: "answer", answer: problemAnswer(problem("not_found", `no order ${id}`)) };
  }

  async function cancel(
    c: Context,
    id: string,
    preferred: Region[],
  ): Promise<{ kind: "cancelled"; order: CoreOrder } | { kind: "answer"; answer: Answer }> {
    const found = await find(c, id, preferred);
    if (found.kind === "answer") return found;
    const { productId } = found.order;
    const answer = await reach(() =>
      core(found.region).v1.orders[":id"].cancel.$post(
        { param: { id }, query: { productId } },
        tracing(c.get("requestId")),
      ),
    );
    if (answer.kind !== "answer" || answer.status !== 200) return { kind: "answer", answer: fromCore(answer) };
    const userId: string = c.get("userId");
    // The units count against the buyer's limit no more, in the home the order was reserved
    // under (the buyer's token may name another now); the allowance consumer would also see it, later.
    const orderHome = homes.get(found.order.homeRegion ?? "") ?? home(c);
    inBackground(c, "allowance release", () => orderHome.admission.releaseAllowance(userId, productId, id));
    return { kind: "cancelled", order: { ...found.order, ...answer.body } };
  }

  return { place, find, cancel };
}

export type OrderService = ReturnType<typeof orderService>;
