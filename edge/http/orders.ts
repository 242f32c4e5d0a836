/**
 * The order routes: place an order, look one up, cancel one. The work is the order service's
 * (edge/orders.ts); here, what each route reads from the request and how it answers.
 */
import { OpenAPIHono } from "@hono/zod-openapi";
import type { OrderService } from "../orders.ts";
import { orderReply, outOfContract, problemReply, publicOrder } from "./replies.ts";
import { edgeRoutes } from "./routes.ts";
import type { EdgeHonoEnv } from "./variables.ts";

export function orderRoutes(orders: OrderService) {
  return new OpenAPIHono<EdgeHonoEnv>()
    .openapi(edgeRoutes.placeOrder, async (c) => {
      const { productId, quantity } = c.req.valid("json");
      return orderReply(c, await orders.place(c, productId, quantity, c.get("regions")));
    })
    .openapi(edgeRoutes.getOrder, async (c) => {
      const found = await orders.find(c, c.req.valid("param").id, c.get("regions"));
      if (found.kind === "answer") return problemReply(c, found.answer, [404, 503]);
      const order = publicOrder(found.order);
      return order.success ? c.json(order.data, 200) : outOfContract(c, "an order this edge cannot read");
    })
    .openapi(edgeRoutes.cancelOrder, async (c) => {
      const cancelled = await orders.cancel(c, c.req.valid("param").id, c.get("regions"));
      if (cancelled.kind === "answer") return problemReply(c, cancelled.answer, [404, 409, 503]);
      const order = publicOrder(cancelled.order);
      return order.success ? c.json(order.data, 200) : outOfContract(c, "an order this edge cannot read");
    });
}
