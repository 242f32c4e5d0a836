/**
 * The relay's room: each bucket's outbox stream, and the region's pending set that tells the
 * relay which outboxes may have entries it has not seen (shared/keys.ts outboxPendingKey). The
 * order scripts' caller notes an outbox here; the relay takes the notes, reads and trims.
 */
import { outboxPendingKey } from "../../shared/keys.ts";
import { luaScript, runScript, type RespSend } from "../../shared/lua.ts";
import type { RegionRedis } from "./region-redis.ts";

/** An outbox entry as Redis gives it: its id, then its fields and values in turn. */
export type OutboxEntry = [id: string, fields: string[]];

/**
 * Takes the products noted in a region's outbox-pending set. It is a sorted set (every score 0)
 * so that the idle relay can block on it (BZMPOP); the take itself runs on the commands every
 * core's Redis user has had (ZRANGE, ZREM). KEYS[1] the set; ARGV[1] the most to take.
 * Returns the products taken.
 */
const takePendingScript = luaScript(
  `local taken = redis.call("ZRANGE", KEYS[1], 0, tonumber(ARGV[1]) - 1)
for _, product in ipairs(taken) do redis.call("ZREM", KEYS[1], product) end
return taken`,
  { keys: 1 },
);

const takePendingReply = (reply: unknown) => reply as string[];

/** BZMPOP's reply (null when none came in time): the products noted. */
const waitPendingReply = (reply: unknown) =>
  reply ? (reply as [key: string, [string, unknown][]])[1].map(([product]) => String(product)) : [];

/** The most notes one take or wait hands over. */
const TAKE_AT_MOST = 100_000;

export class RegionOutbox {
  private readonly pendingKey: string;

  constructor(private readonly store: RegionRedis) {
    this.pendingKey = outboxPendingKey(store.region);
  }

  /** Notes that a script wrote to `productId`'s empty outbox: the relay's cue to read it. */
  note(productId: string): Promise<unknown> {
    return this.store.command(["ZADD", this.pendingKey, 0, productId]);
  }

  /** Takes the products whose outbox may have entries the relay has not seen. */
  async takePending(): Promise<string[]> {
    return takePendingReply(await runScript(this.store.command, takePendingScript, [this.pendingKey], [TAKE_AT_MOST]));
  }

  /**
   * Waits until a script notes an outbox (BZMPOP), at most `timeoutMs`, and takes the products
   * noted: the idle relay's one command, on a connection of its own (`blocking`), since a
   * blocking command holds its connection. [] when none came in time.
   */
  async waitPending(blocking: RespSend, timeoutMs: number): Promise<string[]> {
    return waitPendingReply(
      await blocking(["BZMPOP", timeoutMs / 1000, 1, this.pendingKey, "MIN", "COUNT", TAKE_AT_MOST]),
    );
  }

  /** Every bucket's outbox (an unsplit product's is its own): the relay's walk for notes lost with a core. */
  buckets(): Promise<string[]> {
    return this.store.buckets();
  }

  /** The oldest `count` entries of each product's outbox. */
  entries(products: string[], count: number): Promise<OutboxEntry[][]> {
    return Promise.all(
      products.map(
        (p) =>
          this.store.command(["XRANGE", this.store.keys(p).outbox, "-", "+", "COUNT", count]) as Promise<OutboxEntry[]>,
      ),
    );
  }

  /** Removes each product's outbox entries below `below` (a stream id); returns how many each holds after. */
  trim(trims: { productId: string; below: string }[]): Promise<number[]> {
    return Promise.all(
      trims.map(async ({ productId, below }) => {
        const outbox = this.store.keys(productId).outbox;
        const [, length] = await Promise.all([
          this.store.command(["XTRIM", outbox, "MINID", below]),
          this.store.command(["XLEN", outbox]),
        ]);
        return Number(length);
      }),
    );
  }
}
