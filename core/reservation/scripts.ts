/**
 * The Lua scripts beside this file, bound to a Redis connection: ioredis's, or any RESP client's
 * `send` (Bun's own, on the request path). Each runs with EVALSHA and falls back to EVAL when
 * Redis answers NOSCRIPT (after a restart or a flush).
 */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { luaScript, REDIS_CLOCK, runScript, type RespSend } from "../../shared/lua.ts";
import type { RedisConnection } from "../../shared/redis.ts";

// By path (href), not URL: the edge's Workers build type-checks this file too (its types reach the core's client).
const read = (name: string) => readFileSync(fileURLToPath(new URL(`./${name}.lua`, import.meta.url).href), "utf8");
const common = read("common");

/** Name → number of KEYS (reserve takes one per order of its batch: the caller gives the count). */
const SCRIPTS = { reserve: undefined, confirm: 6, cancel: 6, expire: 5, forget: 5, activate: 1, allocate: 3 } as const;
export type ScriptName = keyof typeof SCRIPTS;

/** One script's source as Redis receives it: all but activate share the clock and the helpers in common.lua. */
function scriptSource(name: ScriptName): string {
  return name === "activate" ? read(name) : `${REDIS_CLOCK}\n${common}\n${read(name)}`;
}

export type Reply = (string | number | null | Reply)[];
export type Scripts = Record<ScriptName, (keys: string[], args: (string | number)[]) => Promise<Reply>>;

const bound = new WeakMap<RedisConnection, Scripts>();

export function scriptsFor(redis: RedisConnection): Scripts {
  let scripts = bound.get(redis);
  if (scripts) return scripts;
  for (const [name, numberOfKeys] of Object.entries(SCRIPTS)) {
    redis.defineCommand(`fluxGate_${name}`, { numberOfKeys, lua: scriptSource(name as ScriptName) });
  }
  const call = (name: ScriptName) => (keys: string[], args: (string | number)[]) =>
    (redis as unknown as Record<string, (...a: (string | number)[]) => Promise<Reply>>)[`fluxGate_${name}`]!(
      ...(SCRIPTS[name] === undefined ? [keys.length] : []),
      ...keys,
      ...args,
    );
  scripts = Object.fromEntries(Object.keys(SCRIPTS).map((name) => [name, call(name as ScriptName)])) as Scripts;
  bound.set(redis, scripts);
  return scripts;
}

const sources = Object.fromEntries(
  Object.entries(SCRIPTS).map(([name, keys]) => [name, luaScript(scriptSource(name as ScriptName), { keys })]),
);

export function respScripts(send: RespSend): Scripts {
  return Object.fromEntries(
    Object.keys(SCRIPTS).map((name) => [
      name,
      (keys: string[], args: (string | number)[]) => runScript(send, sources[name]!, keys, args) as Promise<Reply>,
    ]),
  ) as Scripts;
}
