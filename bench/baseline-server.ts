/**
 * The benchmark's baseline: the least a reservation endpoint could do. Bun.serve + Hono, parse
 * the JSON body, one EVALSHA against the same Redis, answer 202. No signature, no validation,
 * no outbox. The core is measured against this in the same run.
 *   bun bench/baseline-server.ts <port> <redis-url>
 */
import { Hono } from "hono";
import { connectRedis } from "../shared/redis.ts";

const [port, redisUrl] = Bun.argv.slice(2);
const redis = connectRedis(redisUrl!);
redis.defineCommand("takeOne", { numberOfKeys: 1, lua: "return redis.call('DECRBY', KEYS[1], ARGV[1])" });
const takeOne = (redis as unknown as { takeOne(key: string, n: number): Promise<number> }).takeOne.bind(redis);

const app = new Hono();
app.post("/v1/reservations", async (c) => {
  const body = await c.req.json<{ productId: string; quantity: number }>();
  const left = await takeOne(`bench-baseline:{${body.productId}}`, body.quantity);
  return c.json({ left }, 202);
});
Bun.serve({ port: Number(port), hostname: "127.0.0.1", fetch: app.fetch });
