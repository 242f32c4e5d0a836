/**
 * Least privilege in Redis (issue 11): each component's Redis user reaches only its own keys and
 * commands, inside Lua scripts too, and the edge's REST token can neither read nor change an
 * inventory key, nor run an administrative command, on the real stack's Redis.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { Redis as Upstash } from "@upstash/redis";
import { edgeAllowList } from "../../redis-rest/allow-list.ts";
import { createRedisRestApp } from "../../redis-rest/app.ts";
import { buyerKeys, productKeys } from "../../shared/keys.ts";
import { connectRedis } from "../../shared/redis.ts";
import { urlAs } from "../../shared/redis-users.ts";
import { config, uniqueName } from "../support/helpers.ts";

const region = config.regions[0]!;
const other = config.regions[1]!;
const operator = connectRedis(region.redisUrl);
const as = {
  edge: connectRedis(region.redisUrlFor.edge),
  core: connectRedis(region.redisUrlFor.core),
  worker: connectRedis(region.redisUrlFor.worker),
};
afterAll(() => {
  for (const redis of [operator, ...Object.values(as)]) redis.disconnect();
});

/** A product with 10 units available in `region`, written as its operator. */
async function inventory() {
  const keys = productKeys(region.id, uniqueName("acl"));
  await operator.hset(keys.product, { available: 10 });
  return keys.product;
}
const available = (key: string) => operator.hget(key, "available");
const refused = (call: Promise<unknown>) =>
  call.then(
    (reply) => `answered ${JSON.stringify(reply)}`,
    (error: Error) => error.message,
  );

describe("each component's Redis user", () => {
  test("the edge's reaches a buyer's keys and no inventory key, not even from a script, and no administrative command", async () => {
    const buyer = buyerKeys(uniqueName("buyer"));
    expect(await as.edge.hset(buyer.orders, "o1", "us-east P")).toBe(1);
    const product = await inventory();
    expect(await refused(as.edge.hincrby(product, "available", 5))).toStartWith("NOPERM");
    expect(await refused(as.edge.hget(product, "available"))).toStartWith("NOPERM");
    expect(
      await refused(as.edge.eval("return redis.call('HINCRBY', KEYS[1], 'available', 5)", 1, product)),
    ).toStartWith("NOPERM");
    expect(await refused(as.edge.eval(`return redis.call('HSET', '${product}', 'available', 999)`, 0))).toContain(
      "can't access at least one of the keys",
    );
    for (const command of [
      ["CONFIG", "SET", "appendonly", "no"],
      ["KEYS", "*"],
      ["FLUSHALL"],
      ["SCRIPT", "FLUSH"],
      ["ACL", "LIST"],
      ["MODULE", "LIST"],
    ]) {
      expect(await refused(as.edge.call(command[0]!, ...command.slice(1)))).toStartWith("NOPERM");
    }
    expect(await available(product)).toBe("10");
    expect(await operator.config("GET", "appendonly")).toEqual(["appendonly", "yes"]);
  });

  test("a core's reaches its own region's inventory, not another region's, and no buyer's keys", async () => {
    const product = await inventory();
    expect(await as.core.hget(product, "available")).toBe("10");
    expect(await refused(as.core.hget(productKeys(other.id, "P").product, "available"))).toStartWith("NOPERM");
    expect(await refused(as.core.hset(buyerKeys("zoe").orders, "o", "x"))).toStartWith("NOPERM");
    expect(await refused(as.core.call("FLUSHALL"))).toStartWith("NOPERM");
  });

  test("the worker's only gives allowances back", async () => {
    const allowance = buyerKeys(uniqueName("buyer")).allowance("P");
    await operator.hset(allowance, "o1", 2);
    expect(await as.worker.hdel(allowance, "o1")).toBe(1);
    expect(await refused(as.worker.hset(allowance, "o2", 99))).toStartWith("NOPERM");
    expect(await refused(as.worker.hget(await inventory(), "available"))).toStartWith("NOPERM");
  });

  test("a wrong password is refused", async () => {
    const intruder = Bun.spawnSync([
      "redis-cli",
      "-u",
      urlAs(region.redisUrl, "edge", "not-the-password"),
      "--no-auth-warning",
      "PING",
    ]);
    expect(intruder.stdout.toString() + intruder.stderr.toString()).toContain("WRONGPASS");
  });
});

describe("the edge's REST token", () => {
  const redis = connectRedis(region.redisUrlFor.edge);
  const token = region.redisRestToken;
  const server = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    fetch: createRedisRestApp({ redis, token, allow: edgeAllowList(region.id) }).fetch,
  });
  const url = `http://127.0.0.1:${server.port}`;
  afterAll(() => {
    server.stop(true);
    redis.disconnect();
  });
  const post = async (path: string, body: unknown) => {
    const response = await fetch(`${url}${path}`, {
      method: "POST",
      headers: { Authorization: `Bearer ${token}` },
      body: JSON.stringify(body),
    });
    return { status: response.status, body: (await response.json()) as unknown };
  };

  test.each([
    ["CONFIG", "GET", "appendonly"],
    ["CONFIG", "SET", "appendonly", "no"],
    ["KEYS", "fg:*"],
    ["FLUSHALL"],
    ["DEBUG", "SLEEP", "0"],
    ["SCRIPT", "FLUSH"],
    ["ACL", "WHOAMI"],
    ["MODULE", "LIST"],
    ["INFO"],
  ])("%s is refused in the REST protocol's error shape", async (...command) => {
    const answer = await post("/", command);
    expect(answer.status).toBe(400);
    expect(answer.body).toEqual({ error: `NOPERM this token may not run '${command[0].toLowerCase()}'` });
  });

  test("an inventory key is neither read nor changed: one command, a pipeline, a transaction, a script, the path form", async () => {
    const product = await inventory();
    const touch = `NOPERM this token may not touch the key '${product}'`;
    expect(await post("/", ["HSET", product, "available", "999"])).toEqual({ status: 400, body: { error: touch } });
    expect(await post("/", ["HGET", product, "available"])).toEqual({ status: 400, body: { error: touch } });
    expect(await post("/", ["HINCRBY", product, "available", "5"])).toEqual({ status: 400, body: { error: touch } });
    expect(await post("/", ["HINCRBYFLOAT", product, "available", "5"])).toEqual({
      status: 400,
      body: { error: "NOPERM this token may not run 'hincrbyfloat'" },
    });
    expect((await post("/pipeline", [["PING"], ["HSET", product, "available", "999"]])).body).toEqual([
      { result: "PONG" },
      { error: touch },
    ]);
    expect(await post("/multi-exec", [["PING"], ["HSET", product, "available", "999"]])).toEqual({
      status: 400,
      body: { error: touch },
    });
    expect(await post("/", ["EVAL", "return redis.call('HINCRBY', KEYS[1], 'available', 5)", "1", product])).toEqual({
      status: 400,
      body: { error: touch },
    });
    // A script that names no key gets past the REST adapter; Redis checks the edge's user inside it.
    const hidden = await post("/", ["EVAL", `return redis.call('HSET', '${product}', 'available', 999)`, "0"]);
    expect(hidden.status).toBe(400);
    expect(JSON.stringify(hidden.body)).toContain("can't access at least one of the keys");
    const path = await fetch(`${url}/hset/${encodeURIComponent(product)}/available/999`, {
      headers: { Authorization: `Bearer ${token}` },
    });
    expect([path.status, await path.json()]).toEqual([400, { error: touch }]);
    expect(await available(product)).toBe("10");
  });

  test("what the edge does still works through it, with @upstash/redis", async () => {
    const upstash = new Upstash({ url, token, enableTelemetry: false, retry: false });
    const { orders } = buyerKeys(uniqueName("buyer"));
    expect(await upstash.hset(orders, { o1: "us-east P" })).toBe(1);
    expect(await upstash.hget(orders, "o1")).toBe("us-east P");
    expect(await upstash.eval("return redis.call('HDEL', KEYS[1], ARGV[1])", [orders], ["o1"])).toBe(1);
  });
});
