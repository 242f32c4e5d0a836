/**
 * An answer checked against what its route declares before it leaves: an order as a core tells
 * it (loose: the core's fields beyond the schema pass on), a ticket, or a problem with a declared
 * status. Anything else is a region answering out of contract: 503.
 */
import type { Context } from "hono";
import type { CoreOrder } from "../../core/http/routes.ts";
import { problem, problemHeaders, problemSchema } from "../../shared/problems.ts";
import type { Answer } from "../answers.ts";
import { orderSchema, queueSchema } from "./routes.ts";

const orderBody = orderSchema.loose();
const problemBody = problemSchema.loose();

export const outOfContract = (c: Context, what: string) =>
  c.json(
    problem("unavailable", `a region answered ${what}, which this route does not declare`),
    503,
    problemHeaders(503),
  );

export function problemReply<S extends 400 | 401 | 404 | 409 | 422 | 429 | 503>(
  c: Context,
  answer: Answer,
  declared: readonly S[],
) {
  const parsed = problemBody.safeParse(answer.body);
  const status = declared.find((s) => s === answer.status);
  if (parsed.success && status !== undefined)
    return c.json(parsed.data, status, problemHeaders(status, answer.headers));
  return outOfContract(c, `${answer.status}`);
}

/** An order's answer as its route declares it: an order, a ticket (303 to its page for a browser), or a problem. */
export const orderReply = (c: Context, answer: Answer) => {
  if (answer.status === 202) {
    const order = orderBody.safeParse(answer.body);
    if (order.success) return c.json(order.data, 202, answer.headers);
    const ticket = queueSchema.safeParse(answer.body);
    if (ticket.success) {
      const browser = (c.req.header("Accept") ?? "").split(",")[0]?.trim().startsWith("text/html");
      return browser ? c.redirect(ticket.data.links.page, 303) : c.json(ticket.data, 202, answer.headers);
    }
  }
  return problemReply(c, answer, [400, 401, 404, 409, 422, 429, 503]);
};

/** What a buyer sees of an order: the core's record without its internals (the user id, …). */
export const publicOrder = (o: CoreOrder) =>
  orderBody.safeParse({
    orderId: o.orderId,
    productId: o.productId,
    quantity: o.quantity,
    status: o.status,
    expiresAt: o.expiresAt,
    region: o.region,
    originRegion: o.originRegion,
    reservedAt: o.reservedAt,
  });
