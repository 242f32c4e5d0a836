/** The simulated WAN's relay over real sockets: the delay each way, the order, the close. No services. */
import { afterAll, expect, test } from "bun:test";
import { connect, createServer, type Server } from "node:net";
import type { Exchange } from "../../stack/wan.ts";
import { startRelay } from "../../stack/wan-proxy.ts";

const SHIFT = Number(process.env.FLUX_GATE_TEST_PORT_SHIFT ?? 0);
const ECHO_PORT = 18550 + SHIFT;
const RELAY_PORT = 18551 + SHIFT;
const DELAY = 40;

const echo: Server = createServer((s) => s.pipe(s));
await new Promise<void>((resolve) => echo.listen(ECHO_PORT, "127.0.0.1", resolve));
const exchanges: Exchange[] = [];
const relay = await startRelay(
  { name: "echo", listenPort: RELAY_PORT, targetHost: "127.0.0.1", targetPort: ECHO_PORT },
  DELAY,
  (e) => exchanges.push(e),
);
afterAll(() => {
  relay.close();
  echo.close();
});

/** Sends `messages` one after another without waiting, resolves with all that came back and when. */
function talk(messages: string[]): Promise<{ text: string; ms: number }> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const socket = connect({ host: "127.0.0.1", port: RELAY_PORT });
    const expected = messages.join("").length;
    let text = "";
    socket.on("data", (chunk) => {
      text += chunk.toString();
      if (text.length >= expected) {
        socket.end();
        resolve({ text, ms: performance.now() - started });
      }
    });
    socket.on("error", reject);
    socket.on("connect", () => {
      for (const m of messages) socket.write(m);
    });
  });
}

test("a round trip through the relay takes twice the one-way delay, no more than a little over", async () => {
  const { text, ms } = await talk(["ping"]);
  expect(text).toBe("ping");
  expect(ms).toBeGreaterThanOrEqual(2 * DELAY - 1);
  expect(ms).toBeLessThan(2 * DELAY + 60);
  expect(exchanges.at(-1)!.answerAt - exchanges.at(-1)!.requestAt).toBeGreaterThanOrEqual(2 * DELAY - 1);
});

test("many chunks keep their order, and a pipeline costs one round trip", async () => {
  const messages = Array.from({ length: 500 }, (_, i) => `${i},`);
  const before = exchanges.length;
  const { text, ms } = await talk(messages);
  expect(text).toBe(messages.join(""));
  expect(ms).toBeLessThan(2 * DELAY + 100);
  expect(exchanges.length - before).toBeGreaterThanOrEqual(1);
});

test("the server's close reaches the client after what it sent", async () => {
  const closer = createServer((s) => s.end("bye"));
  await new Promise<void>((resolve) => closer.listen(ECHO_PORT + 2, "127.0.0.1", resolve));
  const r = await startRelay(
    { name: "closer", listenPort: RELAY_PORT + 2, targetHost: "127.0.0.1", targetPort: ECHO_PORT + 2 },
    DELAY,
  );
  const got = await new Promise<string>((resolve) => {
    let text = "";
    const s = connect({ host: "127.0.0.1", port: RELAY_PORT + 2 });
    s.on("data", (c) => (text += c.toString()));
    s.on("end", () => resolve(text));
  });
  expect(got).toBe("bye");
  r.close();
  closer.close();
});
