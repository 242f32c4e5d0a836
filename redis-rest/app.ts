/**
 * A region's Redis behind the Upstash REST protocol, so the edge reaches it with
 * `@upstash/redis` wherever it runs (as Upstash's own serverless-redis-http does):
 * `POST /` one command, `POST /pipeline` many, `POST /multi-exec` many in a transaction, and the
 * path form (`GET /set/key/value`, `POST /set/key` with the value as the body, `?EX=100`).
 * Redis errors pass through verbatim: the clients look for `NOSCRIPT` in them. A token runs only
 * what its allow-list grants (redis-rest/allow-list.ts).
 */
import { Hono, type Context } from "hono";
import type { Registry } from "prom-client";
import { instrument } from "../shared/metrics.ts";
import { bodyLimit } from "hono/body-limit";
import type { RedisConnection } from "../shared/redis.ts";
import { encodeReply, isCommand, pathCommand, refusal, tokenMatches, type Command, type Reply } from "./protocol.ts";
import { ScriptHashes } from "../shared/script-flags.ts";
import type { AllowList } from "./allow-list.ts";

type Result = { result: unknown } | { error: string };

/** Upstash's own REST API takes up to 1 MB per request by default; so does this one. */
const MAX_BODY_BYTES = 1_048_576;

const errorText = (error: unknown) => (error instanceof Error ? error.message : String(error));

export function createRedisRestApp({
  redis,
  token,
  allow,
  registry,
}: {
  redis: RedisConnection;
  token: string;
  allow: AllowList;
  registry?: Registry;
}) {
  const app = new Hono();
  const scripts = new ScriptHashes();
  const base64 = (c: Context) => c.req.header("Upstash-Encoding")?.toLowerCase() === "base64";
  const fail = (c: Context, status: 400 | 401 | 413, error: string) => c.json({ error }, status);

  async function body(c: Context): Promise<unknown> {
    try {
      return await c.req.json();
    } catch {
      return undefined;
    }
  }

  async function commands(c: Context): Promise<Command[] | string> {
    const parsed = await body(c);
    if (!Array.isArray(parsed) || parsed.length === 0 || !parsed.every(isCommand)) {
      return "ERR the body must be a non-empty JSON array of commands, each an array of strings and numbers";
    }
    return parsed;
  }

  // Upper case on purpose: ioredis reshapes some replies (HGETALL into an object) by the
  // lower-case command name; the REST protocol wants Redis's replies as they are.
  const name = (command: Command) => String(command[0]).toUpperCase();
  const refused = (command: Command) => refusal(command) ?? allow(command);
  async function run(command: Command): Promise<Reply> {
    const sent = scripts.rewrite(command);
    return scripts.answer(command, await redis.callBuffer(name(sent), ...sent.slice(1))) as Reply;
  }

  if (registry) instrument(app, registry);
  app.get("/health", (c) => c.json({ status: "ok" }));
  app.get("/ready", async (c) => {
    const redisUp = await redis.ping().then(
      (r) => r === "PONG",
      () => false,
    );
    return c.json({ status: redisUp ? "ready" : "not ready", redis: redisUp }, redisUp ? 200 : 503);
  });

  app.use("*", async (c, next) => {
    if (!tokenMatches(token, c.req.header("Authorization"))) return fail(c, 401, "Unauthorized");
    await next();
  });
  app.use(
    "*",
    bodyLimit({
      maxSize: MAX_BODY_BYTES,
      onError: (c) => c.json({ error: `ERR request body over ${MAX_BODY_BYTES} bytes` }, 413),
    }),
  );

  async function single(c: Context, command: Command) {
    const why = refused(command);
    if (why) return fail(c, 400, why);
    try {
      return c.json({ result: encodeReply(await run(command), base64(c)) });
    } catch (error) {
      return fail(c, 400, errorText(error));
    }
  }

  app.post("/", async (c) => {
    const command = await body(c);
    if (!isCommand(command)) return fail(c, 400, "ERR the body must be a JSON array: a command and its arguments");
    return single(c, command);
  });

  app.post("/pipeline", async (c) => {
    const list = await commands(c);
    if (typeof list === "string") return fail(c, 400, list);
    const results: Result[] = await Promise.all(
      list.map(async (command) => {
        const why = refused(command);
        if (why) return { error: why };
        // One connection keeps the commands in order; they need not wait for each other.
        return run(command).then(
          (reply) => ({ result: encodeReply(reply, base64(c)) }),
          (error: unknown) => ({ error: errorText(error) }),
        );
      }),
    );
    return c.json(results);
  });

  app.post("/multi-exec", async (c) => {
    const list = await commands(c);
    if (typeof list === "string") return fail(c, 400, list);
    const why = list.map(refused).find(Boolean);
    if (why) return fail(c, 400, why);
    const transaction = redis.multi();
    for (const command of list) {
      const sent = scripts.rewrite(command);
      transaction.callBuffer(name(sent), ...sent.slice(1));
    }
    try {
      const replies = (await transaction.exec()) ?? [];
      return c.json(
        replies.map(
          ([error, reply], i): Result =>
            error
              ? { error: errorText(error) }
              : { result: encodeReply(scripts.answer(list[i]!, reply) as Reply, base64(c)) },
        ),
      );
    } catch (error) {
      return fail(c, 400, errorText(error));
    }
  });

  // Registered last: `/pipeline` and `/multi-exec` are routes, not commands.
  const pathForm = async (c: Context) => {
    const command = await pathCommand(c.req.raw);
    return command ? single(c, command) : fail(c, 400, "ERR the path must name a command: /<command>/<argument>/…");
  };
  app.get("/*", pathForm);
  app.post("/*", pathForm);

  return app;
}
