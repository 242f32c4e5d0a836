import { bunRedis } from "./shared/bun-redis.ts";
const r = bunRedis("redis://127.0.0.1:6399", 1000);
await r.send(["XADD", "s", "*", "order", "a", "event", "{}"]);
console.log(JSON.stringify(await r.send(["XRANGE", "s", "-", "+", "COUNT", "10"])));
console.log(JSON.stringify(await r.send(["SPOP", "nope", "10"])), JSON.stringify(await r.send(["XTRIM", "s", "MINID", "0-1"])));
r.close();
