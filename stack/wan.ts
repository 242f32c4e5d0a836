/**
 * The simulated WAN of `--wan` (docs/capacity.md#the-wan-simulated): the pure parts. Each
 * region's Redis and first core get a TCP relay on loopback (stack/wan-proxy.ts) that holds
 * every chunk, in each direction, for the one-way delay; one edge runs per region, reaching its
 * own region directly and the other through the relay. Here: where everything listens, the
 * edges' environment, the delay queue, and the round trips a relay saw.
 */
import { type Config, ConfigError, regionVariable } from "../shared/config.ts";

/** The default one-way delay between two regions: about New York to Dublin. */
export const DEFAULT_WAN_DELAY_MS = 35;
/** No more than this: a delay past the edge's deadlines only measures timeouts. */
export const MAX_WAN_DELAY_MS = 1_000;

/** `--wan-delay-ms`'s value, or a one-line reason it is not one. */
export function parseWanDelay(raw: string | undefined): number {
  if (raw === undefined) return DEFAULT_WAN_DELAY_MS;
  const value = Number(raw);
  if (raw.trim() === "" || !Number.isInteger(value) || value < 0 || value > MAX_WAN_DELAY_MS)
    throw new ConfigError(`--wan-delay-ms takes whole milliseconds from 0 to ${MAX_WAN_DELAY_MS}, not "${raw}"`);
  return value;
}

/** One relay: what it listens on and where it forwards. */
export interface WanLink {
  /** `redis-eu-west`, `core-eu-west`. */
  name: string;
  region: string;
  kind: "redis" | "core";
  listenPort: number;
  targetHost: string;
  targetPort: number;
}

/** One edge of a region, with the environment that makes the other regions far. */
export interface WanEdge {
  region: string;
  name: string;
  url: string;
  port: number;
  metricsPort: number;
  env: Record<string, string>;
}

export interface WanLayout {
  delayMs: number;
  /** The relay process's /health and /exchanges. */
  controlPort: number;
  controlUrl: string;
  links: WanLink[];
  edges: WanEdge[];
}

/**
 * Where the relays and the edges listen: the relay process's control port
 * (FLUX_GATE_WAN_PORT, 8500), region i's Redis relay on control + 10 + i and its core relay on
 * control + 20 + i; region i's edge on the edge port + i, its metrics on the metrics port + i.
 * The single topology only: a Redis Cluster's clients learn the nodes' own addresses and would
 * go round the relay.
 */
export function wanLayout(config: Config, delayMs: number, env = process.env): WanLayout {
  if (config.topology !== "single") throw new ConfigError("--wan runs on the single topology, not --topology scaled");
  const raw = env.FLUX_GATE_WAN_PORT ?? "8500";
  const controlPort = Number(raw);
  if (!Number.isInteger(controlPort) || controlPort < 1 || controlPort > 65_000)
    throw new ConfigError(`FLUX_GATE_WAN_PORT must be a TCP port (1-65000), not "${raw}"`);
  const target = (url: string) => {
    const parsed = new URL(url);
    return { targetHost: parsed.hostname, targetPort: Number(parsed.port) };
  };
  const links = config.regions.flatMap((region, i): WanLink[] => [
    {
      name: `redis-${region.id}`,
      region: region.id,
      kind: "redis",
      listenPort: controlPort + 10 + i,
      ...target(region.redisUrl),
    },
    {
      name: `core-${region.id}`,
      region: region.id,
      kind: "core",
      listenPort: controlPort + 20 + i,
      ...target(region.coreUrl),
    },
  ]);
  const linkPort = (region: string, kind: WanLink["kind"]) =>
    links.find((l) => l.region === region && l.kind === kind)!.listenPort;
  const edges = config.regions.map((region, i): WanEdge => {
    const port = config.edge.port + i;
    const metricsPort = config.edge.metricsPort + i;
    const far = config.regions.filter((r) => r.id !== region.id);
    return {
      region: region.id,
      name: `edge-${region.id}`,
      url: `http://127.0.0.1:${port}`,
      port,
      metricsPort,
      env: {
        FLUX_GATE_EDGE_PORT: String(port),
        FLUX_GATE_EDGE_METRICS_PORT: String(metricsPort),
        FLUX_GATE_EDGE_URL: `http://127.0.0.1:${port}`,
        // The edge connects as its own Redis user: it puts its user and password in this URL.
        ...Object.fromEntries(
          far.flatMap((r) => [
            [regionVariable("REDIS_URL", r.id), `redis://127.0.0.1:${linkPort(r.id, "redis")}`],
            [regionVariable("CORE_URL", r.id), `http://127.0.0.1:${linkPort(r.id, "core")}`],
          ]),
        ),
      },
    };
  });
  return { delayMs, controlPort, controlUrl: `http://127.0.0.1:${controlPort}`, links, edges };
}

/**
 * Chunks in the order they came, each released `delayMs` after it arrived and never before
 * the one ahead of it: a per-connection, per-direction FIFO with due times. Pure: the caller
 * says what time it is.
 */
export class DelayQueue<T> {
  private readonly items: { due: number; item: T }[] = [];
  private head = 0;
  private lastDue = Number.NEGATIVE_INFINITY;

  constructor(readonly delayMs: number) {}

  push(item: T, now: number): number {
    const due = Math.max(now + this.delayMs, this.lastDue);
    this.lastDue = due;
    this.items.push({ due, item });
    return due;
  }

  /** Everything due at `now`, in order. */
  takeDue(now: number): T[] {
    const out: T[] = [];
    while (this.head < this.items.length && this.items[this.head]!.due <= now) out.push(this.items[this.head++]!.item);
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items.splice(0, this.head);
      this.head = 0;
    }
    return out;
  }

  /** When the next chunk is due; undefined when none waits. */
  nextDue(): number | undefined {
    return this.items[this.head]?.due;
  }

  get size(): number {
    return this.items.length - this.head;
  }
}

/**
 * A round trip through a relay: the first chunk toward the server arrived at `requestAt`, and
 * the server's first chunk after it reached the client at `answerAt` (epoch ms). Chunks sent
 * before that answer (a pipeline) belong to the same round trip: the client waited once.
 */
export interface Exchange {
  link: string;
  requestAt: number;
  answerAt: number;
}

/** Per connection: opens a round trip on the client's chunk, closes it on the answer's. Pure. */
export class ExchangeTracker {
  private openedAt: number | undefined;

  constructor(
    private readonly link: string,
    private readonly record: (exchange: Exchange) => void,
  ) {}

  fromClient(arrivedAt: number): void {
    this.openedAt ??= arrivedAt;
  }

  toClient(deliveredAt: number): void {
    if (this.openedAt === undefined) return;
    this.record({ link: this.link, requestAt: this.openedAt, answerAt: deliveredAt });
    this.openedAt = undefined;
  }
}

/**
 * The round trips of one request that was sent at `from` and answered at `to`: those a relay
 * saw start and end within it. Counted for requests sent one at a time, with nothing else going
 * through the relays. Pure.
 */
export function roundTripsWithin(exchanges: Exchange[], from: number, to: number): number {
  return exchanges.filter((e) => e.requestAt >= from && e.answerAt <= to).length;
}

/** A user id like `base` whose hashed home (`homeOf`) is `wanted`: `base`, else `base-1`, `base-2`, … */
export function userIdHomedIn(base: string, wanted: string, homeOf: (userId: string) => string): string {
  for (let n = 0; n < 1_000; n++) {
    const id = n === 0 ? base : `${base}-${n}`;
    if (homeOf(id) === wanted) return id;
  }
  throw new Error(`no user id like ${base} hashes to ${wanted}`);
}
