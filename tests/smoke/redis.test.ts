import { afterAll, describe, expect, test } from "bun:test";
import { connectRedis } from "../../shared/redis.ts";
import { config, uniqueName } from "../support/helpers.ts";

// Takes `quantity` from a stock counter only if enough is left: the shape of the reservation.
const TAKE_IF_AVAILABLE = `
local left = tonumber(redis.call('GET', KEYS[1]) or '0')
local want = tonumber(ARGV[1])
if left < want then return -1 end
return redis.call('DECRBY', KEYS[1], want)`;

for (const region of config.regions) {
  describe(`redis ${region.id}`, () => {
    const redis = connectRedis(region.redisUrl);
    afterAll(() => redis.disconnect());

    test("runs a Lua script atomically on a hash-tagged key", async () => {
      const key = `{${region.id}:${uniqueName("smoke")}}:available`;
      await redis.set(key, 5, "EX", 60);
      expect(await redis.eval(TAKE_IF_AVAILABLE, 1, key, 3)).toBe(2);
      expect(await redis.eval(TAKE_IF_AVAILABLE, 1, key, 3)).toBe(-1);
      expect(await redis.get(key)).toBe("2");
    });

    test.if(!region.redisExternal)("is durable and never evicts", async () => {
      expect(await redis.config("GET", "appendonly")).toEqual(["appendonly", "yes"]);
      expect(await redis.config("GET", "maxmemory-policy")).toEqual(["maxmemory-policy", "noeviction"]);
      expect(await redis.config("GET", "appendfsync")).toEqual(["appendfsync", config.redis.appendFsync]);
    });
  });
}
