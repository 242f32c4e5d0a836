/**
 * The benchmark's naive comparator: the textbook flash-sale API the issue measures against
 * (Fastify + ioredis + kafkajs on Node), rebuilt on Bun + Hono so that the runtime matches the
 * edge's. One process, five steps per order, each awaited in turn: rate-limit INCR, idempotency
 * GET, a Lua stock decrement, the Kafka send (kafkajs's default producer, as a textbook API has
 * it: acks = all, not idempotent, requests in flight unlimited), idempotency SET.
 *   bun bench/naive-server.ts <port> <redis-url> <kafka-brokers comma list> <topic>
 */
import { Hono } from "hono";
import { connectProducer } from "../shared/kafka.ts";
import { connectRedis } from "../shared/redis.ts";

const [port, redisUrl, brokers, topic] = Bun.argv.slice(2);
const redis = connectRedis(redisUrl!);
// A product's stock starts at 1e9 when first seen; a decrement that would go negative is undone.
redis.defineCommand("takeStock", {
  numberOfKeys: 1,
  lua: `redis.call('SET', KEYS[1], '1000000000', 'NX')
    local left = redis.call('DECRBY', KEYS[1], ARGV[1])
    if left < 0 then redis.call('INCRBY', KEYS[1], ARGV[1]) return -1 end
    return left`,
});
const takeStock = (redis as unknown as { takeStock(key: string, n: number): Promise<number> }).takeStock.bind(redis);
const producer = await connectProducer(
  { brokers: brokers!.split(","), clientId: "bench-naive" },
  { idempotent: false },
);

const app = new Hono();
app.post("/v1/orders", async (c) => {
  const userId = c.req.header("X-User-Id");
  const key = c.req.header("Idempotency-Key");
  if (!userId || !key) return c.json({ error: "missing X-User-Id or Idempotency-Key" }, 400);
  const { productId, quantity } = await c.req.json<{ productId: string; quantity: number }>();
  const rate = await redis.incr(`naive:rate:${userId}`);
  if (rate === 1) await redis.expire(`naive:rate:${userId}`, 10);
  if (rate > 100_000_000) return c.json({ error: "rate_limited" }, 429);
  const stored = await redis.get(`naive:idem:${userId}:${key}`);
  if (stored) return c.json(JSON.parse(stored), 200);
  if ((await takeStock(`naive:stock:{${productId}}`, quantity)) < 0) return c.json({ error: "sold_out" }, 409);
  const order = { orderId: crypto.randomUUID(), userId, productId, quantity };
  await producer.send(topic!, [{ key: order.orderId, value: JSON.stringify(order) }]);
  await redis.set(`naive:idem:${userId}:${key}`, JSON.stringify(order), "EX", 86_400);
  return c.json(order, 202);
});
Bun.serve({ port: Number(port), hostname: "127.0.0.1", fetch: app.fetch });
