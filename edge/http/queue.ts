/**
 * The waiting room's routes: where a ticket stands, the ticket's order once the room admits it,
 * and the page a browser watches its place on. A ticket is its own credential: these routes
 * take no identity, and the ticket acts for the buyer who took it.
 */
import { OpenAPIHono } from "@hono/zod-openapi";
import type { Context } from "hono";
import type { Region } from "../../shared/config.ts";
import { problem, problemHeaders } from "../../shared/problems.ts";
import { fromCore } from "../answers.ts";
import type { Home } from "../home/homes.ts";
import type { RateLimiter } from "../middleware/rate-limit/index.ts";
import type { OrderService } from "../orders.ts";
import { roomPage } from "../room/page.ts";
import type { Ticket } from "../room/ticket.ts";
import { queueStatus, type WaitingRoom } from "../room/waiting-room.ts";
import type { SaleTermsCache } from "../sale-terms.ts";
import { orderReply, problemReply } from "./replies.ts";
import { edgeRoutes } from "./routes.ts";
import type { EdgeHonoEnv } from "./variables.ts";

export interface QueueDeps {
  regions: Region[];
  homes: Map<string, Home>;
  room: WaitingRoom;
  terms: SaleTermsCache;
  orders: OrderService;
  ticketLimiter: RateLimiter;
}

const noTicket = (c: Context) =>
  c.json(problem("not_found", "no such ticket (forged, expired or not a ticket)"), 404, problemHeaders(404));

export function queueRoutes({ regions, homes, room, terms, orders, ticketLimiter }: QueueDeps) {
  const byId = new Map(regions.map((r) => [r.id, r]));

  /**
   * A ticket's looks and orders count against the ticket's own limit, in its buyer's home region:
   * per ticket, not per buyer, since tickets travel in URLs and one that leaked must not use up
   * the buyer's other tickets.
   */
  const ticketRefusal = async (ticket: Ticket) => {
    const verdict = await ticketLimiter(homes.get(ticket.homeRegion)!.redis.ratelimit, ticket.id);
    return verdict.success ? undefined : verdict.refusal();
  };

  return (
    new OpenAPIHono<EdgeHonoEnv>()
      .openapi(edgeRoutes.queueStatus, async (c) => {
        const token = c.req.valid("param").ticket;
        const ticket = await room.read(token);
        if (!ticket) return noTicket(c);
        const refused = await ticketRefusal(ticket);
        if (refused) return c.json(refused.body, 429, problemHeaders(429, refused.headers));
        const sale = await terms.get(ticket.productId);
        if (sale === "unavailable") return problemReply(c, fromCore({ kind: "timeout" }), [503]);
        const looked = sale && (await room.look(ticket, sale));
        if (!looked) return noTicket(c);
        return c.json(queueStatus(token, ticket, looked.standing, sale.roomRate, looked.elsewhere), 200);
      })
      .openapi(edgeRoutes.queueOrder, async (c) => {
        const ticket = await room.read(c.req.valid("param").ticket);
        if (!ticket) return noTicket(c);
        const refused = await ticketRefusal(ticket);
        if (refused) return c.json(refused.body, 429, problemHeaders(429, refused.headers));
        // The ticket stands for the request that took it: its buyer and home, its key, its product and units.
        c.set("userId", ticket.userId);
        c.set("homeRegion", ticket.homeRegion);
        c.set("idempotencyKey", ticket.idempotencyKey);
        const first = byId.get(c.req.valid("query").region ?? ticket.region) ?? byId.get(ticket.region);
        const preferred = [...(first ? [first] : []), ...c.get("regions").filter((r) => r.id !== first?.id)];
        const ticketRoom = byId.get(ticket.region);
        return orderReply(c, await orders.place(c, ticket.productId, ticket.quantity, preferred, { ticketRoom }));
      })
      // The room's page for browsers: it reads its ticket from its own path.
      .get("/queue/:ticket", (c) =>
        c.html(roomPage, 200, {
          "Content-Security-Policy":
            "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
          "Cache-Control": "no-store",
        }),
      )
  );
}
