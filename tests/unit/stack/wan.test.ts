/** The simulated WAN's pure parts: the delay queue, the layout, the round-trip count, the flag. */
import { expect, test } from "bun:test";
import { loadConfig } from "../../../shared/config.ts";
import { rendezvousHome } from "../../../shared/home-region.ts";
import {
  DEFAULT_WAN_DELAY_MS,
  DelayQueue,
  type Exchange,
  ExchangeTracker,
  parseWanDelay,
  roundTripsWithin,
  userIdHomedIn,
  wanLayout,
} from "../../../stack/wan.ts";

test("the delay queue releases each chunk its delay after it came, in order, never before the one ahead", () => {
  const q = new DelayQueue<string>(35);
  expect(q.push("a", 0)).toBe(35);
  expect(q.push("b", 10)).toBe(45);
  expect(q.nextDue()).toBe(35);
  expect(q.takeDue(34)).toEqual([]);
  expect(q.takeDue(35)).toEqual(["a"]);
  expect(q.takeDue(100)).toEqual(["b"]);
  expect(q.nextDue()).toBeUndefined();
  expect(q.size).toBe(0);
});

test("a chunk pushed with an earlier clock still leaves after the one ahead of it", () => {
  const q = new DelayQueue<number>(10);
  q.push(1, 50);
  expect(q.push(2, 40)).toBe(60);
  expect(q.takeDue(60)).toEqual([1, 2]);
});

test("the queue keeps its order over many chunks and compacts what it released", () => {
  const q = new DelayQueue<number>(5);
  const out: number[] = [];
  for (let i = 0; i < 5_000; i++) {
    q.push(i, i);
    out.push(...q.takeDue(i));
  }
  out.push(...q.takeDue(Number.POSITIVE_INFINITY));
  expect(out).toEqual(Array.from({ length: 5_000 }, (_, i) => i));
});

test("a round trip opens on the client's chunk and closes on the answer's; a pipeline is one", () => {
  const seen: Exchange[] = [];
  const t = new ExchangeTracker("redis-eu-west", (e) => seen.push(e));
  t.toClient(1); // a server's greeting: no round trip
  t.fromClient(10);
  t.fromClient(11);
  t.toClient(80);
  t.toClient(81);
  t.fromClient(100);
  t.toClient(170);
  expect(seen).toEqual([
    { link: "redis-eu-west", requestAt: 10, answerAt: 80 },
    { link: "redis-eu-west", requestAt: 100, answerAt: 170 },
  ]);
  expect(roundTripsWithin(seen, 5, 90)).toBe(1);
  expect(roundTripsWithin(seen, 5, 200)).toBe(2);
  expect(roundTripsWithin(seen, 50, 200)).toBe(1);
});

test("--wan-delay-ms: whole milliseconds, else one line naming the flag", () => {
  expect(parseWanDelay(undefined)).toBe(DEFAULT_WAN_DELAY_MS);
  expect(parseWanDelay("0")).toBe(0);
  expect(parseWanDelay("80")).toBe(80);
  for (const bad of ["abc", "", "-1", "1.5", "100000"])
    expect(() => parseWanDelay(bad)).toThrow(`--wan-delay-ms takes whole milliseconds from 0 to 1000, not "${bad}"`);
});

test("each region's edge reaches its own region directly and the other through the relays", () => {
  const config = loadConfig({ FLUX_GATE_ENV: "development" });
  const layout = wanLayout(config, 35, {});
  expect(layout.controlUrl).toBe("http://127.0.0.1:8500");
  expect(layout.links.map((l) => [l.name, l.listenPort, l.targetPort])).toEqual([
    ["redis-us-east", 8510, 6380],
    ["core-us-east", 8520, 8101],
    ["redis-eu-west", 8511, 6381],
    ["core-eu-west", 8521, 8102],
  ]);
  expect(layout.edges.map((e) => [e.region, e.url, e.metricsPort])).toEqual([
    ["us-east", "http://127.0.0.1:8080", 8090],
    ["eu-west", "http://127.0.0.1:8081", 8091],
  ]);
  expect(layout.edges[0]!.env).toMatchObject({
    REDIS_URL_EU_WEST: "redis://127.0.0.1:8511",
    CORE_URL_EU_WEST: "http://127.0.0.1:8521",
  });
  expect(layout.edges[0]!.env.REDIS_URL_US_EAST).toBeUndefined();
  expect(layout.edges[1]!.env).toMatchObject({
    REDIS_URL_US_EAST: "redis://127.0.0.1:8510",
    CORE_URL_US_EAST: "http://127.0.0.1:8520",
  });
  // The edge's configuration, from that environment: its own Redis user on the relay.
  const eu = loadConfig({ FLUX_GATE_ENV: "development", ...layout.edges[1]!.env });
  expect(eu.regions[0]!.redisUrlFor.edge).toStartWith("redis://flux-gate-edge:");
  expect(eu.regions[0]!.redisUrlFor.edge).toEndWith("@127.0.0.1:8510");
  expect(eu.regions[1]!.redisUrlFor.edge).toEndWith("@127.0.0.1:6381");
  expect(eu.regions[0]!.coreUrl).toBe("http://127.0.0.1:8520");
  expect(eu.edge.port).toBe(8081);
});

test("--wan refuses the scaled topology", () => {
  const config = loadConfig({ FLUX_GATE_ENV: "development", FLUX_GATE_TOPOLOGY: "scaled" });
  expect(() => wanLayout(config, 35, {})).toThrow("--wan runs on the single topology");
});

test("a far-home buyer's id hashes to the other region", () => {
  const regions = ["us-east", "eu-west"];
  for (let i = 0; i < 50; i++) {
    const id = userIdHomedIn(`demo-x-${i}`, "eu-west", (u) => rendezvousHome(u, regions));
    expect(rendezvousHome(id, regions)).toBe("eu-west");
  }
});
