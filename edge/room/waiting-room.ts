/**
 * The waiting room in front of the cores, for products whose room is on (docs/api.md "The
 * waiting room"). An order enters the room of the first preferred region that has units left:
 * admitted at once while the room's rate allows, else it gets a ticket and a place, and its
 * buyer is told where they stand instead of waiting on a socket. The room admits no more buyers
 * than the region's free units can serve, so a region that sells out tells its queue at once.
 */
import type { Config, Region } from "../../shared/config.ts";
import type { Home } from "../home/homes.ts";
import { AVAILABILITY_DEADLINE_MS } from "../availability.ts";
import type { SaleTerms } from "../sale-terms.ts";
import { roomStore, type RoomTerms, type Standing } from "./room.ts";
import { issueTicket, readTicket, type Ticket } from "./ticket.ts";

/** How long a region's free units, as a core last told them, stand for the room's decisions. */
export const STOCK_TTL_MS = 250;
/** How often a queued buyer is asked to look again. */
export const POLL_AFTER_MS = 500;

export type Entry =
  | { kind: "admitted"; region: Region }
  | { kind: "queued"; token: string; ticket: Ticket; standing: Standing; rate: number }
  | { kind: "expired" }
  /** The room keeps no queue (`shed`) and its rate is used up: try again in a second. */
  | { kind: "shed" }
  /** The same ticket (Idempotency-Key) took its place asking for other units. */
  | { kind: "reused" }
  /** The buyer holds as many places in the room as they may buy units. */
  | { kind: "limit" }
  | { kind: "sold_out" };

/** Where a ticket stands, as the buyer reads it (GET /v1/queue/{ticket}). Pure. */
export function queueStatus(
  token: string,
  ticket: Ticket,
  standing: Standing,
  rate: number,
  elsewhere: { region: string; available: number }[] = [],
) {
  const path = `/v1/queue/${token}`;
  return {
    ticket: token,
    state: standing.state,
    productId: ticket.productId,
    quantity: ticket.quantity,
    region: ticket.region,
    /** Buyers between this one and admission. */
    ahead: standing.ahead,
    /** Buyers the room holds now, admitted ones not counted. */
    waiting: standing.waiting,
    estimatedWaitSeconds: standing.state === "waiting" ? Math.ceil(standing.ahead / Math.max(1, rate)) : null,
    admittedUntil: standing.admittedUntil === undefined ? null : new Date(standing.admittedUntil).toISOString(),
    /** Regions that still have units, when this one has none. */
    elsewhere,
    pollAfterMs: POLL_AFTER_MS,
    links: { status: path, order: `${path}/order`, page: `/queue/${token}` },
  };
}

/** Free units per region and product, from the cores, each kept STOCK_TTL_MS; -1 when no core answered. */
export function freshStock(ask: (region: Region, productId: string) => Promise<number | undefined>) {
  const seen = new Map<string, { until: number; units: Promise<number> }>();
  return (region: Region, productId: string): Promise<number> => {
    const key = `${region.id} ${productId}`;
    const hit = seen.get(key);
    if (hit && hit.until > Date.now()) return hit.units;
    const units = ask(region, productId).then(
      (n) => n ?? -1,
      () => -1,
    );
    seen.set(key, { until: Date.now() + STOCK_TTL_MS, units });
    return units;
  };
}

/**
 * Another region's free units, for a queue told its own region sold out: one that does not
 * answer within the availability deadline is left out, not waited for (-1: unknown).
 */
function unlessLate(units: Promise<number>): Promise<number> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<number>((resolve) => {
    timer = setTimeout(() => resolve(-1), AVAILABILITY_DEADLINE_MS);
  });
  return Promise.race([units, late]).finally(() => clearTimeout(timer));
}

/** A uniform draw the buyer cannot see or predict: a lobby place. */
const draw = () => crypto.getRandomValues(new Uint32Array(1))[0]! / 2 ** 32;

/**
 * What the room tells the operator: the Bun edge exports it as Prometheus metrics
 * (edge/room/metrics.ts), which the dashboard charts; the Workers bundle carries none.
 */
export interface RoomObserver {
  /** An order met the room: let in at once or from the queue, given a ticket, or turned away. */
  entered(region: string, outcome: "admitted" | "queued" | "shed" | "sold_out" | "expired"): void;
  /** The buyers a product's room in the region holds, admitted ones not counted, as last seen. */
  waiting(region: string, productId: string, buyers: number): void;
}

export interface WaitingRoomDeps {
  config: Config;
  homes: Map<string, Home>;
  stock: (region: Region, productId: string) => Promise<number>;
  key: Uint8Array;
  observe?: RoomObserver;
}

export function waitingRoom({ config, homes, stock, key, observe }: WaitingRoomDeps) {
  const rooms = new Map(config.regions.map((r) => [r.id, roomStore(homes.get(r.id)!.redis, r.id)]));
  const byId = new Map(config.regions.map((r) => [r.id, r]));
  const windowMs = config.edge.roomWindowSeconds * 1000;

  const termsIn = async (region: Region, productId: string, sale: SaleTerms): Promise<RoomTerms> => ({
    rate: sale.roomRate,
    windowMs,
    available: await stock(region, productId),
    opensAt: sale.roomMode === "lobby" ? Date.parse(sale.startsAt) : 0,
  });

  return {
    /** An order's way into the cores, or its ticket. A retry with the same ids keeps its place. */
    async enter(intent: Omit<Ticket, "region">, sale: SaleTerms, preferred: Region[]): Promise<Entry> {
      for (const region of preferred) {
        const terms = await termsIn(region, intent.productId, sale);
        if (terms.available === 0) continue;
        const standing = await rooms.get(region.id)!.enter(intent.productId, intent.id, intent.quantity, terms, {
          draw: draw(),
          keep: sale.roomMode !== "shed",
          buyer: intent.userId,
          places: sale.perUserLimit,
        });
        observe?.waiting(region.id, intent.productId, standing.waiting);
        switch (standing.state) {
          case "admitted":
            observe?.entered(region.id, "admitted");
            return { kind: "admitted", region };
          case "used": // ordered before: the Idempotency-Key has its answer
            return { kind: "admitted", region };
          case "expired":
            observe?.entered(region.id, "expired");
            return { kind: "expired" };
          case "shed":
            observe?.entered(region.id, "shed");
            return { kind: "shed" };
          case "reused":
            return { kind: "reused" };
          case "limit":
            return { kind: "limit" };
          case "waiting":
          case "lobby": {
            observe?.entered(region.id, "queued");
            const ticket = { ...intent, region: region.id };
            return { kind: "queued", token: await issueTicket(key, ticket), ticket, standing, rate: sale.roomRate };
          }
          default: // sold out here: the next region
        }
      }
      if (preferred[0]) observe?.entered(preferred[0].id, "sold_out");
      return { kind: "sold_out" };
    },

    /** Where a ticket stands now, with the regions that still have units when its own has none. */
    async look(ticket: Ticket, sale: SaleTerms) {
      const region = byId.get(ticket.region);
      if (!region) return undefined;
      const standing = await rooms
        .get(region.id)!
        .look(ticket.productId, ticket.id, await termsIn(region, ticket.productId, sale));
      const elsewhere =
        standing.state === "sold_out"
          ? (
              await Promise.all(
                config.regions
                  .filter((r) => r.id !== region.id)
                  .map(async (r) => ({ region: r.id, available: await unlessLate(stock(r, ticket.productId)) })),
              )
            ).filter((r) => r.available > 0)
          : [];
      return { standing, elsewhere };
    },

    /**
     * The admitted order was answered: its units go back to the room. `ordered: false` (the order
     * was refused, or never placed) also gives the buyer's place back. Safe to call twice, and
     * after the ticket lapsed.
     */
    use(region: Region, productId: string, ticketId: string, { ordered }: { ordered: boolean }): Promise<void> {
      return rooms.get(region.id)!.use(productId, ticketId, { ordered });
    },

    /** The ticket, if it is one and its buyer's home is a region here (a home gone with its region acts for nobody). */
    read: async (token: string) => {
      const ticket = await readTicket(key, token);
      return ticket && byId.has(ticket.homeRegion) ? ticket : undefined;
    },
  };
}

export type WaitingRoom = ReturnType<typeof waitingRoom>;
