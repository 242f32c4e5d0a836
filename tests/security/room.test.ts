/**
 * The waiting room read as an attacker would (issue 24's review), each a test that failed before
 * its fix: a ticket refused at home keeps its place and its count, a refused admission is not
 * let in again, a stalled region does not slow a sold-out room's looks, a leaked ticket cannot
 * lock its buyer out. Real cores, workers, Redis, PostgreSQL.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { respHomeRedis } from "../../edge/home/resp.ts";
import { roomStore } from "../../edge/room/room.ts";
import { issueTicket, ticketKey } from "../../edge/room/ticket.ts";
import { deriveOrderId } from "../../edge/order-id.ts";
import { regionById, regionVariable } from "../../shared/config.ts";
import { rendezvousHome } from "../../shared/home-region.ts";
import { buyerKeys } from "../../shared/keys.ts";
import { connectRedis } from "../../shared/redis.ts";
import { config, uniqueName } from "../support/helpers.ts";
import { coreClient, createProduct, withCoresAndWorkers } from "../support/harness.ts";
import { blackhole, edgeApp, edgeEnv, inProcess, order, stockIn, type Send } from "../support/edge.ts";

const regionIds = config.regions.map((r) => r.id);
const [home, away] = regionIds as [string, string];
const env = edgeEnv({});
const send = inProcess(edgeApp(env));

interface QueueTicket {
  ticket: string;
  state: string;
  region: string;
  elsewhere: { region: string; available: number }[];
}

const buy = (user: string, productId: string, key: string, edge: Send = send, region = home) =>
  order(edge, { user, key, body: { productId, quantity: 1 }, headers: { "X-Region": region } });
const look = async (ticket: string, edge: Send = send) => {
  const response = await edge(`/v1/queue/${ticket}`);
  return { status: response.status, body: (await response.json()) as QueueTicket };
};
const orderWith = (ticket: string, edge: Send = send) =>
  edge(`/v1/queue/${ticket}/order`, { method: "POST", headers: { Accept: "application/json" } });

describe("the waiting room under attack", () => {
  withCoresAndWorkers([home, away]);
  const admins: ReturnType<typeof connectRedis>[] = [];
  afterAll(() => {
    for (const a of admins) a.disconnect();
  });

  test("a waiting ticket whose order is refused at home keeps its place in the queue, so it keeps counting: a buyer never holds more places than perUserLimit", async () => {
    // A lobby: nobody is admitted before the start, so every ticket stays where it is.
    const productId = await createProduct({
      units: { [home]: 10 },
      room: { mode: "lobby", rate: 1 },
      perUserLimit: 1,
      startsInMs: 1_800_000,
    });
    const user = uniqueName("hoarder");
    const homeRedis = connectRedis(regionById(config, rendezvousHome(user, regionIds)).redisUrl);
    admins.push(homeRedis);
    const allowance = buyerKeys(user).allowance(productId);

    const tickets: string[] = [];
    const first = (await (await buy(user, productId, uniqueName("k"))).json()) as QueueTicket;
    expect(first.state).toBe("lobby");
    tickets.push(first.ticket);
    // The room counts the place: a second key is refused.
    const second = await buy(user, productId, uniqueName("k"));
    expect(second.status).toBe(409);
    expect(await second.json()).toMatchObject({ code: "user_limit_exceeded" });

    for (let round = 0; round < 2; round++) {
      // Another order of the buyer holds the allowance for a moment (in flight in another
      // request, or reserved elsewhere and cancelled later): the waiting ticket's order is refused at home.
      await homeRedis.hset(allowance, `other-${round}`, "1");
      const refused = await orderWith(tickets.at(-1)!);
      expect(refused.status).toBe(409);
      expect(await refused.json()).toMatchObject({ code: "user_limit_exceeded" });
      await Bun.sleep(300); // the give-back runs after the answer
      await homeRedis.hdel(allowance, `other-${round}`);
      // The refused ticket still waits in the queue ...
      expect((await look(tickets.at(-1)!)).body.state).toBe("lobby");
      // ... and yet a new key takes one more place.
      const next = await buy(user, productId, uniqueName("k"));
      const body = (await next.json()) as QueueTicket & { code?: string };
      if (body.ticket) tickets.push(body.ticket);
    }
    const states = await Promise.all(tickets.map(async (t) => (await look(t)).body.state));
    const holding = states.filter((s) => s === "lobby" || s === "waiting" || s === "admitted").length;
    expect({ holding, states }).toMatchObject({ holding: 1 });
  }, 30_000);

  test("a queued buyer's look at a sold-out region waits for no stalled region: `elsewhere` within the availability deadline", async () => {
    const stalled = await blackhole();
    try {
      const edge = inProcess(
        edgeApp({
          ...env,
          [regionVariable("CORE_URL", away)]: `http://127.0.0.1:${stalled.port}`,
          FLUX_GATE_CORE_TIMEOUT_MS: "2000",
        }),
      );
      const productId = await createProduct({ units: { [home]: 1, [away]: 5 }, room: { mode: "queue", rate: 1 } });
      // The home region's last unit goes; a buyer has a place in its room, now sold out.
      expect((await coreClient(home).reserve({ userId: uniqueName("u"), productId, quantity: 1 })).status).toBe(202);
      const redis = respHomeRedis.connect(regionById(config, home), 2_000);
      const user = uniqueName("queued");
      const key = uniqueName("k");
      const id = deriveOrderId(config.edge.orderIdSecret, user, key);
      const standing = await roomStore(redis, home).enter(
        productId,
        id,
        1,
        { rate: 1, windowMs: 120_000, available: 0, opensAt: 0 },
        { draw: 0.5, keep: true, buyer: user, places: 5 },
      );
      redis.close();
      expect(standing.state).toBe("sold_out");
      const ticket = await issueTicket(ticketKey(config.edge.orderIdSecret), {
        id,
        userId: user,
        productId,
        quantity: 1,
        idempotencyKey: key,
        region: home,
        homeRegion: rendezvousHome(user, regionIds),
      });
      expect(await stockIn(edge, home, productId)).toBe(0);
      const t0 = performance.now();
      const seen = await look(ticket, edge);
      const ms = performance.now() - t0;
      expect(seen.body.state).toBe("sold_out");
      // No look of a buyer queued in the healthy region waits for the stalled core's deadline.
      expect(ms).toBeLessThan(1_000);
    } finally {
      stalled.close();
    }
  }, 30_000);

  test("a buyer's ticket known to someone else (tickets travel in URLs) does not lock the buyer out of ordering with another ticket", async () => {
    const limited = inProcess(edgeApp({ ...env, FLUX_GATE_RATE_LIMIT_TICKET: "5/10s" }));
    const productId = await createProduct({ units: { [home]: 10 }, room: { mode: "queue", rate: 1 }, perUserLimit: 2 });
    // The bucket's one admission goes to someone else: the buyer's two orders queue.
    expect((await buy(uniqueName("first"), productId, uniqueName("k"), limited)).status).toBe(202);
    const victim = uniqueName("victim");
    const leaked = (await (await buy(victim, productId, uniqueName("k"), limited)).json()) as QueueTicket;
    const own = (await (await buy(victim, productId, uniqueName("k"), limited)).json()) as QueueTicket;
    expect([leaked.state, own.state]).toEqual(["waiting", "waiting"]);
    // Someone who found the first ticket's URL looks at it a few times.
    for (let i = 0; i < 6; i++) await limited(`/v1/queue/${leaked.ticket}`);
    await Bun.sleep(2_500); // both admitted by now (1 a second)
    const placed = await orderWith(own.ticket, limited);
    expect(placed.status).toBe(202);
  }, 30_000);

  test("an admitted ticket refused at home gives its admission back: the same key does not skip the queue later", async () => {
    const quick = inProcess(edgeApp({ ...env, FLUX_GATE_ROOM_WINDOW_SECONDS: "1" }));
    const productId = await createProduct({ units: { [home]: 10 }, room: { mode: "queue", rate: 1 }, perUserLimit: 1 });
    expect((await buy(uniqueName("first"), productId, uniqueName("k"), quick)).status).toBe(202);
    const user = uniqueName("skipper");
    const homeRedis = connectRedis(regionById(config, rendezvousHome(user, regionIds)).redisUrl);
    admins.push(homeRedis);
    const allowance = buyerKeys(user).allowance(productId);
    const key = uniqueName("k");
    const queued = (await (await buy(user, productId, key, quick)).json()) as QueueTicket;
    expect(queued.state).toBe("waiting");
    await Bun.sleep(1_100);
    expect((await look(queued.ticket, quick)).body.state).toBe("admitted");
    // While another order holds the allowance, the admitted ticket's order is refused at home.
    await homeRedis.hset(allowance, "other", "1");
    expect((await orderWith(queued.ticket, quick)).status).toBe(409);
    await Bun.sleep(300);
    await homeRedis.hdel(allowance, "other");
    // Later, behind a queue of others, the same ticket must not order at once.
    await Promise.all(Array.from({ length: 5 }, () => buy(uniqueName("crowd"), productId, uniqueName("k"), quick)));
    await Bun.sleep(2_000);
    // Its admission ended without an order: the room says so ...
    expect((await look(queued.ticket, quick)).body.state).toBe("expired");
    // ... and its order is not let in.
    const late = await orderWith(queued.ticket, quick);
    const body = (await late.json()) as { code?: string; state?: string; status?: string };
    expect({ status: late.status, body }).not.toMatchObject({ status: 202, body: { status: "reserved" } });
  }, 30_000);
});
