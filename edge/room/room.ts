/**
 * A product's waiting room in one region: typed calls over the scripts in lua.ts, run in that
 * region's Redis. Pure but for the calls.
 */
import { roomKeys } from "../../shared/keys.ts";
import type { HomeRedis } from "../home/home.ts";
import { ENTER, LOOK, USE } from "./lua.ts";

const scripts = { enter: ENTER, look: LOOK, use: USE };

export const ROOM_STATES = [
  "admitted",
  "waiting",
  "lobby",
  "sold_out",
  "expired",
  "used",
  "unknown",
  "shed",
  "reused",
  "limit",
] as const;
export type RoomState = (typeof ROOM_STATES)[number];

/** Where a ticket stands. `now` is Redis's clock (ms), `waiting` the room's queue behind the admitted. */
export interface Standing {
  state: RoomState;
  /** Buyers between this ticket and admission. */
  ahead: number;
  waiting: number;
  now: number;
  /** Until when an admitted ticket may order (ms). */
  admittedUntil?: number;
}

/** The scripts' reply as a value. Pure. */
export function parseStanding(reply: unknown): Standing {
  const [state, a, now, waiting] = reply as [string, number, number, number];
  const known = ROOM_STATES.find((s) => s === state);
  if (!known) throw new Error(`the room's script answered ${JSON.stringify(reply)}`);
  return {
    state: known,
    ahead: known === "admitted" ? 0 : Number(a),
    waiting: Number(waiting),
    now: Number(now),
    ...(known === "admitted" ? { admittedUntil: Number(a) } : {}),
  };
}

/** How a room admits at this moment. */
export interface RoomTerms {
  /** Admissions per second; the bucket holds one second of them. */
  rate: number;
  windowMs: number;
  /** The region's free units as last seen (-1: unknown, no cap). */
  available: number;
  /** Nobody is admitted before (ms): the sale's start. */
  opensAt: number;
}

const common = (t: RoomTerms) => [t.rate, Math.max(1, t.rate), t.windowMs, t.available, t.opensAt];

export function roomStore(redis: HomeRedis, region: string) {
  const keysOf = (productId: string) => {
    const k = roomKeys(region, productId);
    return [k.queue, k.state, k.admits, k.tickets, k.buyers];
  };
  return {
    /**
     * A place for `ticket` (its first one, on a retry), then its standing. `draw` places a lobby
     * arrival before the start (0 ≤ draw < 1, from a random source the buyer cannot see); without
     * `keep` a ticket not admitted at once gives its place back (`shed`); `buyer` takes at most
     * `places` places in the room.
     */
    async enter(
      productId: string,
      ticket: string,
      units: number,
      terms: RoomTerms,
      { draw, keep, buyer, places }: { draw: number; keep: boolean; buyer: string; places: number },
    ): Promise<Standing> {
      const reply = await redis.run(scripts.enter, keysOf(productId), [
        ...common(terms),
        ticket,
        units,
        draw,
        keep ? 1 : 0,
        buyer,
        places,
      ]);
      return parseStanding(reply);
    },

    async look(productId: string, ticket: string, terms: RoomTerms): Promise<Standing> {
      return parseStanding(await redis.run(scripts.look, keysOf(productId), [...common(terms), ticket]));
    },

    /**
     * The ticket's order was answered: the units its admission kept aside go back to the room, and
     * unless it `ordered`, its buyer's place too. The last answer told stands; telling it again changes nothing.
     */
    async use(productId: string, ticket: string, { ordered }: { ordered: boolean }): Promise<void> {
      await redis.run(scripts.use, keysOf(productId), [ticket, ordered ? 1 : 0]);
    },
  };
}

export type RoomStore = ReturnType<typeof roomStore>;
