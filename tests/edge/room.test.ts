/**
 * The waiting room (edge/room/), in-process edges against real cores, workers, Redis and
 * PostgreSQL: tickets instead of waits beyond the room's rate, places that only move forward,
 * admitted orders served, sold out told to the queue and units coming back, the lobby's draw,
 * forged and expired tickets, an edge restart mid-queue.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { respHomeRedis } from "../../edge/home/resp.ts";
import { roomMetrics } from "../../edge/room/metrics.ts";
import { roomStore } from "../../edge/room/room.ts";
import { issueTicket, ticketKey } from "../../edge/room/ticket.ts";
import { createRegistry, instrument, metricsResponse, readSamples } from "../../shared/metrics.ts";
import { roomKeys } from "../../shared/keys.ts";
import { connectRedis } from "../../shared/redis.ts";
import { waitUntil } from "../../stack/process.ts";
import { config, uniqueName } from "../support/helpers.ts";
import { createProduct, withCoresAndWorkers } from "../support/harness.ts";
import { edgeApp, edgeEnv, inProcess, order, type Send, startRedisRestAdapters, stockIn } from "../support/edge.ts";

const [home, away] = [config.regions[0]!.id, config.regions[1]!.id];
const restAdapters = startRedisRestAdapters();
const env = edgeEnv(restAdapters.env);
const send = inProcess(edgeApp(env));

interface QueueTicket {
  ticket: string;
  state: string;
  ahead: number;
  region: string;
  elsewhere: { region: string; available: number }[];
  links: { status: string; order: string; page: string };
}

const buy = (user: string, productId: string, edge: Send = send, key = uniqueName("k")) =>
  order(edge, { user, key, body: { productId, quantity: 1 }, headers: { "X-Region": home } });

const status = async (ticket: string, edge: Send = send) => {
  const response = await edge(`/v1/queue/${ticket}`);
  return { status: response.status, body: (await response.json()) as QueueTicket };
};

const orderWith = (ticket: string, query = "", edge: Send = send) =>
  edge(`/v1/queue/${ticket}/order${query}`, { method: "POST", headers: { Accept: "application/json" } });

/** Looks at a ticket until `done` says so; every state seen, in order. */
async function follow(ticket: string, done: (s: QueueTicket) => boolean, edge: Send = send) {
  const seen: QueueTicket[] = [];
  await waitUntil(
    async () => {
      const { body } = await status(ticket, edge);
      seen.push(body);
      return done(body);
    },
    30_000,
    100,
  );
  return seen;
}

describe("the waiting room", () => {
  withCoresAndWorkers([home, away]);
  afterAll(() => restAdapters.stop());

  test("beyond the room's rate a buyer gets a ticket at once; places only move forward; every admitted order is served, also after an edge restart", async () => {
    const productId = await createProduct({ units: { [home]: 100 }, room: { mode: "queue", rate: 5 } });
    const answers = await Promise.all(Array.from({ length: 30 }, (_, i) => buy(`crowd-${i}`, productId)));
    const bodies = await Promise.all(answers.map((a) => a.json() as Promise<QueueTicket & { orderId?: string }>));
    expect(answers.every((a) => a.status === 202)).toBe(true);
    const served = bodies.filter((b) => b.orderId);
    const queued = bodies.filter((b) => b.ticket);
    // The bucket holds one second of admissions; the rest wait with a ticket, not on a socket.
    expect(served.length).toBeGreaterThanOrEqual(1);
    expect(served.length).toBeLessThanOrEqual(10);
    expect(served.length + queued.length).toBe(30);
    for (const q of queued) expect(q).toMatchObject({ state: "waiting", region: home });

    // An edge that restarts reads the same tickets: they are signed, the places are in Redis.
    const restarted = inProcess(edgeApp(env));
    const journeys = await Promise.all(
      queued.map(async (q, i) => {
        const edge = i % 2 ? restarted : send;
        const seen = await follow(q.ticket, (s) => s.state === "admitted", edge);
        const placed = await orderWith(q.ticket, "", edge);
        return { seen, placed: placed.status, body: (await placed.json()) as { orderId: string; status: string } };
      }),
    );
    for (const { seen, placed, body } of journeys) {
      const aheads = seen.map((s) => s.ahead);
      expect(aheads).toEqual([...aheads].sort((a, b) => b - a));
      expect(placed).toBe(202);
      expect(body.status).toBe("reserved");
    }
    expect(await stockIn(send, home, productId)).toBe(70);
  }, 60_000);

  test("a room without a queue (shed): beyond its rate 503 with Retry-After at once, nothing kept; a retry later gets in", async () => {
    const productId = await createProduct({ units: { [home]: 20 }, room: { mode: "shed", rate: 2 } });
    const keys = Array.from({ length: 8 }, (_, i) => ({ user: `shed-${i}`, key: uniqueName("k") }));
    const first = await Promise.all(keys.map(({ user, key }) => buy(user, productId, send, key)));
    const shed = first.filter((a) => a.status === 503);
    const served = first.filter((a) => a.status === 202);
    expect(shed.length + served.length).toBe(8);
    expect(served.length).toBeGreaterThanOrEqual(1);
    expect(shed.length).toBeGreaterThanOrEqual(4);
    for (const a of shed) {
      expect(a.headers.get("retry-after")).toBe("1");
      expect(await a.json()).toMatchObject({ code: "overloaded" });
    }
    for (const a of served) expect(await a.json()).toMatchObject({ status: "reserved" });
    expect(await stockIn(send, home, productId)).toBe(20 - served.length);
    // Nobody holds a place: a shed buyer retrying after Retry-After gets in like anyone else.
    const again = keys[first.findIndex((a) => a.status === 503)]!;
    let retried: Response | undefined;
    for (let i = 0; i < 10 && retried?.status !== 202; i++) {
      await Bun.sleep(1_000);
      retried = await buy(again.user, productId, send, again.key);
    }
    expect(retried!.status).toBe(202);
    expect(await stockIn(send, home, productId)).toBe(20 - served.length - 1);
  }, 30_000);

  test("shed with one place per buyer: a shed buyer's retry with the same key, or with a new one, gets in; the place a shed request took goes back", async () => {
    const productId = await createProduct({ units: { [home]: 10 }, room: { mode: "shed", rate: 1 }, perUserLimit: 1 });
    // The bucket holds one admission: the occupier takes it, the next two are shed at once.
    expect((await buy("occupier", productId)).status).toBe(202);
    const sameKey = uniqueName("k");
    for (const [user, key] of [
      ["shed-same-key", sameKey],
      ["shed-new-key", uniqueName("k")],
    ] as const) {
      const shed = await buy(user, productId, send, key);
      expect(shed.status).toBe(503);
      expect(await shed.json()).toMatchObject({ code: "overloaded" });
    }
    /** Tries after Retry-After until let in; every try is let in or shed, never refused. */
    const retried = async (user: string, key: () => string) => {
      let answer: Response | undefined;
      for (let i = 0; i < 10 && answer?.status !== 202; i++) {
        await Bun.sleep(1_000);
        answer = await buy(user, productId, send, key());
        expect([202, 503]).toContain(answer.status);
      }
      return answer!;
    };
    expect(await (await retried("shed-same-key", () => sameKey)).json()).toMatchObject({ status: "reserved" });
    expect(await (await retried("shed-new-key", () => uniqueName("k"))).json()).toMatchObject({ status: "reserved" });
    // An order keeps its place: one more is over the limit.
    const more = await buy("shed-same-key", productId);
    expect(more.status).toBe(409);
    expect(await more.json()).toMatchObject({ code: "user_limit_exceeded" });
    expect(await stockIn(send, home, productId)).toBe(7);
  }, 30_000);

  test("queue with one place per buyer: an admission that lapsed gives the place back, so a new key queues again", async () => {
    const quick = inProcess(edgeApp({ ...env, FLUX_GATE_ROOM_WINDOW_SECONDS: "1" }));
    const productId = await createProduct({ units: { [home]: 10 }, room: { mode: "queue", rate: 1 }, perUserLimit: 1 });
    expect((await buy("first-in", productId, quick)).status).toBe(202);
    const lapsing = (await (await buy("lapsing", productId, quick)).json()) as QueueTicket;
    expect(lapsing.state).toBe("waiting");
    await follow(lapsing.ticket, (s) => s.state === "expired", quick);
    const again = await buy("lapsing", productId, quick);
    expect(again.status).toBe(202);
    const body = (await again.json()) as QueueTicket & { status?: string };
    if (body.ticket) {
      await follow(body.ticket, (s) => s.state === "admitted", quick);
      expect((await orderWith(body.ticket, "", quick)).status).toBe(202);
    } else expect(body.status).toBe("reserved");
    expect(await stockIn(quick, home, productId)).toBe(8);
  }, 30_000);

  test("a retry after the region sold out gets its stored answer, not a refusal; the same key with other units is 422", async () => {
    const productId = await createProduct({ units: { [home]: 1 }, room: { mode: "queue", rate: 5 } });
    const key = uniqueName("k");
    const first = await buy("lucky", productId, send, key);
    const placed = (await first.json()) as { orderId: string };
    expect(first.status).toBe(202);
    // The only unit is gone: the room reads the region as sold out, and the answer stands.
    const again = await buy("lucky", productId, send, key);
    expect(again.status).toBe(202);
    expect(again.headers.get("idempotent-replayed")).toBe("true");
    expect(await again.json()).toMatchObject({ orderId: placed.orderId });

    const other = await createProduct({ units: { [home]: 10 }, room: { mode: "queue", rate: 1 } });
    await Promise.all([buy("fill-1", other), buy("fill-2", other)]);
    const otherKey = uniqueName("k");
    expect(((await (await buy("changer", other, send, otherKey)).json()) as QueueTicket).state).toBe("waiting");
    const changed = await order(send, {
      user: "changer",
      key: otherKey,
      body: { productId: other, quantity: 2 },
      headers: { "X-Region": home },
    });
    expect(changed.status).toBe(422);
    expect(await changed.json()).toMatchObject({ code: "idempotency_key_reused" });
  }, 30_000);

  test("a head asking for more than is left gets its try instead of stalling the queue behind it", async () => {
    const productId = await createProduct({ units: { [home]: 3 }, room: { mode: "queue", rate: 1 }, maxPerOrder: 2 });
    const two = (user: string) =>
      order(send, { user, key: uniqueName("k"), body: { productId, quantity: 2 }, headers: { "X-Region": home } });
    expect((await two("big-first")).status).toBe(202);
    const big = (await (await two("big-second")).json()) as QueueTicket;
    const small = (await (await buy("small-third", productId)).json()) as QueueTicket;
    await follow(big.ticket, (s) => s.state === "admitted");
    const refused = await orderWith(big.ticket);
    expect(refused.status).toBe(409);
    expect(await refused.json()).toMatchObject({ code: "insufficient_stock" });
    await follow(small.ticket, (s) => s.state === "admitted");
    expect((await orderWith(small.ticket)).status).toBe(202);
    expect(await stockIn(send, home, productId)).toBe(0);
  }, 30_000);

  test("a region that does not sell the product is no room to queue in; a buyer holds no more places than units they may buy", async () => {
    const productId = await createProduct({ units: { [home]: 10 }, room: { mode: "queue", rate: 1 }, perUserLimit: 2 });
    const fromAway = await order(send, {
      user: "traveller",
      key: uniqueName("k"),
      body: { productId, quantity: 1 },
      headers: { "X-Region": away },
    });
    expect(fromAway.status).toBe(202);
    expect(await fromAway.json()).toMatchObject({ region: home });
    const queued = (await (await buy("traveller", productId)).json()) as QueueTicket;
    expect(queued.state).toBe("waiting");
    const third = await buy("traveller", productId);
    expect(third.status).toBe(409);
    expect(await third.json()).toMatchObject({ code: "user_limit_exceeded" });
    await follow(queued.ticket, (s) => s.state === "admitted");
    expect((await orderWith(queued.ticket)).status).toBe(202);
    expect(await stockIn(send, home, productId)).toBe(8);
  }, 30_000);

  test("a lobby that opens after admissions began gives arrivals places behind them: nobody admitted loses their turn", async () => {
    const redis = respHomeRedis.connect(config.regions[0]!, 2_000);
    const rooms = roomStore(redis, home);
    const productId = uniqueName("lobby-late");
    const now = { rate: 10, windowMs: 60_000, available: 100, opensAt: 0 };
    expect((await rooms.enter(productId, "a", 1, now, { draw: 0.5, keep: true, buyer: "u", places: 10 })).state).toBe(
      "admitted",
    );
    expect((await rooms.enter(productId, "b", 1, now, { draw: 0.5, keep: true, buyer: "u", places: 10 })).state).toBe(
      "admitted",
    );
    // The start moved an hour later (or the queue turned lobby): a newcomer waits, the admitted stay admitted.
    const later = { ...now, opensAt: Date.now() + 3_600_000 };
    expect(
      (await rooms.enter(productId, "c", 1, later, { draw: 0.01, keep: true, buyer: "u", places: 10 })).state,
    ).toBe("lobby");
    expect((await rooms.look(productId, "a", later)).state).toBe("admitted");
    expect((await rooms.look(productId, "b", later)).state).toBe("admitted");
    redis.close();
  });

  test("a place that ends without an order gives the buyer's count back once per ticket, whatever the order of the calls", async () => {
    const redis = respHomeRedis.connect(config.regions[0]!, 2_000);
    const rooms = roomStore(redis, home);
    const productId = uniqueName("room-places");
    const terms = { rate: 100, windowMs: 60_000, available: 100, opensAt: 0 };
    const enter = async (ticket: string) =>
      (await rooms.enter(productId, ticket, 1, terms, { draw: 0.5, keep: true, buyer: "one", places: 1 })).state;
    // Refused, told twice: the place goes back once.
    expect(await enter("a")).toBe("admitted");
    expect(await enter("b")).toBe("limit");
    await rooms.use(productId, "a", { ordered: false });
    await rooms.use(productId, "a", { ordered: false });
    expect(await enter("b")).toBe("admitted");
    expect(await enter("c")).toBe("limit");
    // Ordered, and then a retry of it refused: back once.
    await rooms.use(productId, "b", { ordered: true });
    expect(await enter("c")).toBe("limit");
    await rooms.use(productId, "b", { ordered: false });
    await rooms.use(productId, "b", { ordered: false });
    expect(await enter("c")).toBe("admitted");
    expect(await enter("d")).toBe("limit");
    // Lapsed (its window passed), and then its order refused: back once.
    await Bun.sleep(50);
    expect((await rooms.look(productId, "c", { ...terms, windowMs: 10 })).state).toBe("expired");
    await rooms.use(productId, "c", { ordered: false });
    expect(await enter("d")).toBe("admitted");
    expect(await enter("e")).toBe("limit");
    // An order that lands after its admission lapsed holds its place again.
    await Bun.sleep(50);
    expect((await rooms.look(productId, "d", { ...terms, windowMs: 10 })).state).toBe("expired");
    await rooms.use(productId, "d", { ordered: true });
    expect(await enter("e")).toBe("limit");
    redis.close();
  });

  test("the Bun edge counts what its rooms do: entries by outcome, and the buyers they hold", async () => {
    const registry = createRegistry("edge");
    const counted = inProcess(
      edgeApp(env, {
        instrument: (app) => instrument(app, registry, { serve: false }),
        observeRoom: roomMetrics(registry),
      }),
    );
    const productId = await createProduct({ units: { [home]: 10 }, room: { mode: "queue", rate: 1 } });
    const answers = await Promise.all(["m-1", "m-2", "m-3"].map((u) => buy(u, productId, counted)));
    const queued = (await Promise.all(answers.map((a) => a.json() as Promise<{ ticket?: string }>))).filter(
      (b) => b.ticket,
    ).length;
    const samples = readSamples(await (await metricsResponse(registry)).text());
    const value = (name: string, labels: Record<string, string>) =>
      samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;
    expect(value("flux_gate_room_entries_total", { region: home, outcome: "admitted" })).toBe(3 - queued);
    expect(value("flux_gate_room_entries_total", { region: home, outcome: "queued" })).toBe(queued);
    expect(value("flux_gate_room_waiting", { region: home, product: productId })).toBeGreaterThanOrEqual(1);
  });

  test("a ticket is bound to its buyer, product and units: forged, foreign or expired ones are not tickets; a used one replays its order", async () => {
    const productId = await createProduct({ units: { [home]: 10 }, room: { mode: "queue", rate: 1 } });
    const ahead = await Promise.all([buy("first-a", productId), buy("first-b", productId)]);
    const servedAhead = (await Promise.all(ahead.map((a) => a.json() as Promise<{ orderId?: string }>))).filter(
      (b) => b.orderId,
    ).length;
    const queued = (await (await buy("bound", productId)).json()) as QueueTicket;
    expect(queued.state).toBe("waiting");

    const [head, payload, signature] = queued.ticket.split(".") as [string, string, string];
    const claims = JSON.parse(Buffer.from(payload, "base64url").toString());
    const otherUser = Buffer.from(JSON.stringify({ ...claims, sub: "mallory" })).toString("base64url");
    const otherProduct = Buffer.from(JSON.stringify({ ...claims, pid: "another" })).toString("base64url");
    const key = ticketKey(config.edge.orderIdSecret);
    const intent = {
      id: claims.jti,
      userId: "bound",
      homeRegion: home,
      productId,
      quantity: 1,
      idempotencyKey: claims.key,
      region: home,
    };
    for (const forged of [
      `${head}.${otherUser}.${signature}`,
      `${head}.${otherProduct}.${signature}`,
      await issueTicket(ticketKey("some other deployment's secret"), intent),
      await issueTicket(key, intent, Date.now() - 2 * 3_600_000),
      "not-a-ticket",
    ]) {
      expect((await status(forged)).status).toBe(404);
      expect((await orderWith(forged)).status).toBe(404);
    }

    await follow(queued.ticket, (s) => s.state === "admitted");
    const first = (await (await orderWith(queued.ticket)).json()) as { orderId: string };
    const again = await orderWith(queued.ticket);
    expect(again.headers.get("idempotent-replayed")).toBe("true");
    expect(await again.json()).toMatchObject({ orderId: first.orderId });
    expect((await status(queued.ticket)).body.state).toBe("used");
    expect(await stockIn(send, home, productId)).toBe(10 - servedAhead - 1);
  }, 30_000);

  test("sold out while queued: the queue learns it, and is offered the region that still has units", async () => {
    const productId = await createProduct({ units: { [home]: 2, [away]: 5 }, room: { mode: "queue", rate: 1 } });
    const answers = await Promise.all(Array.from({ length: 6 }, (_, i) => buy(`late-${i}`, productId)));
    const bodies = (await Promise.all(answers.map((a) => a.json()))) as (QueueTicket & { orderId?: string })[];
    // In the order of their places (concurrent buyers take them in whatever order they arrive).
    const queued = bodies.filter((b) => b.ticket).sort((a, b) => a.ahead - b.ahead);
    // The first admitted orders (one a second) take the two units; the rest learn the room is empty.
    const firstTwo = queued.slice(0, 2 - bodies.filter((b) => b.orderId).length);
    for (const q of firstTwo) {
      await follow(q.ticket, (s) => s.state === "admitted");
      expect((await orderWith(q.ticket)).status).toBe(202);
    }
    const rest = queued.slice(firstTwo.length);
    expect(rest.length).toBeGreaterThan(0);
    for (const q of rest) {
      const seen = await follow(q.ticket, (s) => s.state === "sold_out");
      expect(seen.some((s) => s.state === "admitted")).toBe(false);
      expect(seen.at(-1)!.elsewhere).toEqual([{ region: away, available: 5 }]);
    }
    // Taking the offer: the ticket's order in the other region, through that region's room.
    const moved = await orderWith(rest[0]!.ticket, `?region=${away}`);
    const movedBody = (await moved.json()) as QueueTicket & { region: string; orderId?: string };
    if (movedBody.ticket) {
      await follow(movedBody.ticket, (s) => s.state === "admitted");
      const placed = await orderWith(movedBody.ticket);
      expect(((await placed.json()) as { region: string }).region).toBe(away);
    } else expect(movedBody.region).toBe(away);
    expect(await stockIn(send, home, productId)).toBe(0);
    expect(await stockIn(send, away, productId)).toBe(4);
  }, 60_000);

  test("units coming back (a cancel) let the queue in again", async () => {
    const productId = await createProduct({ units: { [home]: 1 }, room: { mode: "queue", rate: 1 } });
    const taker = await buy("taker", productId);
    const taken = (await taker.json()) as { orderId: string };
    expect(taker.status).toBe(202);
    const waiter = (await (await buy("waiter", productId)).json()) as QueueTicket;
    await follow(waiter.ticket, (s) => s.state === "sold_out");

    const cancelled = await send(`/v1/orders/${taken.orderId}/cancel`, {
      method: "POST",
      headers: { "X-User-Id": "taker", "X-Region": home },
    });
    expect(cancelled.status).toBe(200);
    await follow(waiter.ticket, (s) => s.state === "admitted");
    const placed = await orderWith(waiter.ticket);
    expect(placed.status).toBe(202);
    expect(await stockIn(send, home, productId)).toBe(0);
  }, 30_000);

  test("the lobby: buyers who come before the start get places drawn once, not in order of arrival", async () => {
    const productId = await createProduct({
      units: { [home]: 50 },
      room: { mode: "lobby", rate: 100 },
      startsInMs: 3_000,
    });
    const early: QueueTicket[] = [];
    for (let i = 0; i < 20; i++)
      early.push((await (await buy(`early-${i}`, productId, send, `k-${i}`)).json()) as QueueTicket);
    expect(early.every((t) => t.state === "lobby")).toBe(true);

    const redis = connectRedis(config.regions[0]!.redisUrl);
    const keys = roomKeys(home, productId);
    const drawn = await redis.zrange(keys.queue, 0, -1);
    const arrival = early.map((t) => JSON.parse(Buffer.from(t.ticket.split(".")[1]!, "base64url").toString()).jti);
    expect(new Set(drawn)).toEqual(new Set(arrival));
    expect(drawn).not.toEqual(arrival);
    // A retry keeps the place it drew.
    await buy("early-3", productId, send, "k-3");
    expect(await redis.zrange(keys.queue, 0, -1)).toEqual(drawn);
    redis.disconnect();

    // At the start the lobby goes in, in the drawn order.
    for (const t of early) await follow(t.ticket, (s) => s.state === "admitted");
  }, 30_000);

  test("an admission not used within its window expires, and the units it kept aside go to the next buyer", async () => {
    const quick = inProcess(edgeApp({ ...env, FLUX_GATE_ROOM_WINDOW_SECONDS: "1" }));
    const productId = await createProduct({ units: { [home]: 2 }, room: { mode: "queue", rate: 1 } });
    expect((await buy("first", productId, quick)).status).toBe(202);
    const dawdler = (await (await buy("dawdler", productId, quick)).json()) as QueueTicket;
    const patient = (await (await buy("patient", productId, quick)).json()) as QueueTicket;
    await follow(dawdler.ticket, (s) => s.state === "admitted", quick);
    // The last unit is kept for the admitted buyer: the next one waits.
    expect((await status(patient.ticket, quick)).body.state).toBe("waiting");
    await follow(dawdler.ticket, (s) => s.state === "expired", quick);
    await follow(patient.ticket, (s) => s.state === "admitted", quick);
    expect((await orderWith(patient.ticket, "", quick)).status).toBe(202);
    const late = await orderWith(dawdler.ticket, "", quick);
    expect(late.status).toBe(409);
    expect(await late.json()).toMatchObject({ code: "admission_expired" });
    expect(await stockIn(quick, home, productId)).toBe(0);
  }, 30_000);
});
