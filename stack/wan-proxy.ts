/**
 * The simulated WAN's relays (`npm start -- --wan`, docs/capacity.md#the-wan-simulated): one
 * process, a TCP relay on loopback per region's Redis and first core, each holding every chunk,
 * in each direction, for the one-way delay while keeping their order (stack/wan.ts's
 * DelayQueue), and closing after what was sent before the close. No netem: nothing outside the
 * process changes. A control listener answers /health and /exchanges (the round trips each relay
 * saw, for the demo's count).
 *
 *   bun stack/wan-proxy.ts [--delay-ms 35]
 */
import { createServer, type Server, type Socket, connect } from "node:net";
import { parseArgs } from "node:util";
import { ConfigError, loadConfig } from "../shared/config.ts";
import { DelayQueue, type Exchange, ExchangeTracker, parseWanDelay, type WanLink, wanLayout } from "./wan.ts";

/** Epoch milliseconds with a fraction: comparable across processes on one machine. */
export const epochNow = () => performance.timeOrigin + performance.now();

/** One direction of one connection: chunks out of `from`, `delayMs` later into `to`, in order. */
function pipeDelayed(
  from: Socket,
  to: Socket,
  delayMs: number,
  onDelivered?: (at: number) => void,
  onArrived?: (at: number) => void,
) {
  const queue = new DelayQueue<Buffer | "end">(delayMs);
  let timer: ReturnType<typeof setTimeout> | undefined;
  const flush = () => {
    timer = undefined;
    const now = epochNow();
    for (const chunk of queue.takeDue(now)) {
      if (chunk === "end") {
        to.end();
        continue;
      }
      if (to.destroyed) continue;
      onDelivered?.(now);
      // Backpressure: the reader waits while the writer's buffer is full.
      if (!to.write(chunk) && !from.isPaused()) {
        from.pause();
        to.once("drain", () => from.resume());
      }
    }
    schedule();
  };
  const schedule = () => {
    const due = queue.nextDue();
    if (due === undefined || timer) return;
    timer = setTimeout(flush, Math.max(0, due - epochNow()));
  };
  from.on("data", (chunk: Buffer) => {
    const now = epochNow();
    onArrived?.(now);
    queue.push(chunk, now);
    schedule();
  });
  from.on("end", () => {
    queue.push("end", epochNow());
    schedule();
  });
  return () => clearTimeout(timer);
}

/** A relay for `link`, every round trip it sees passed to `record`. Resolves once it listens. */
export function startRelay(
  link: Pick<WanLink, "name" | "listenPort" | "targetHost" | "targetPort">,
  delayMs: number,
  record: (exchange: Exchange) => void = () => {},
): Promise<Server> {
  const server = createServer({ allowHalfOpen: true }, (client) => {
    const upstream = connect({ host: link.targetHost, port: link.targetPort, allowHalfOpen: true });
    const tracker = new ExchangeTracker(link.name, record);
    const stops = [
      pipeDelayed(client, upstream, delayMs, undefined, (at) => tracker.fromClient(at)),
      pipeDelayed(upstream, client, delayMs, (at) => tracker.toClient(at)),
    ];
    const close = () => {
      for (const stop of stops) stop();
      client.destroy();
      upstream.destroy();
    };
    client.on("error", close);
    upstream.on("error", close);
    client.on("close", () => upstream.writableEnded || upstream.end());
    upstream.on("close", () => client.writableEnded || client.end());
    client.setNoDelay(true);
    upstream.setNoDelay(true);
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(link.listenPort, "127.0.0.1", () => resolve(server));
  });
}

/** The last round trips, at most this many: the demo asks for those since its probe began. */
const KEPT = 20_000;

async function main() {
  const { values } = parseArgs({ args: Bun.argv.slice(2), options: { "delay-ms": { type: "string" } } });
  const delayMs = parseWanDelay(values["delay-ms"]);
  const layout = wanLayout(loadConfig(), delayMs);
  const exchanges: Exchange[] = [];
  const record = (e: Exchange) => {
    exchanges.push(e);
    if (exchanges.length > KEPT) exchanges.splice(0, exchanges.length - KEPT);
  };
  const servers = await Promise.all(layout.links.map((link) => startRelay(link, delayMs, record)));
  const control = Bun.serve({
    port: layout.controlPort,
    hostname: "127.0.0.1",
    fetch(request) {
      const url = new URL(request.url);
      if (url.pathname === "/health") return Response.json({ status: "ok", delayMs, links: layout.links });
      if (url.pathname === "/exchanges") {
        const since = Number(url.searchParams.get("since") ?? 0);
        return Response.json({ delayMs, exchanges: exchanges.filter((e) => e.requestAt >= since) });
      }
      return new Response(null, { status: 404 });
    },
  });
  console.log(
    JSON.stringify({
      time: new Date().toISOString(),
      level: "info",
      component: "wan-proxy",
      message: "listening",
      delayMs,
      control: `http://127.0.0.1:${control.port}`,
      links: layout.links.map((l) => `${l.name} 127.0.0.1:${l.listenPort} -> ${l.targetHost}:${l.targetPort}`),
    }),
  );
  for (const signal of ["SIGINT", "SIGTERM"] as const)
    process.on(signal, () => {
      for (const s of servers) s.close();
      void control.stop(true);
      process.exit(0);
    });
}

if (import.meta.main) {
  try {
    await main();
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    console.error(`wan-proxy: ${error.message}`);
    process.exit(1);
  }
}
