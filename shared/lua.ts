/**
 * Lua scripts by hash, over any client that sends one RESP command at a time: the same on every
 * runtime (Workers bundle this too).
 */
import { sha1 } from "./script-flags.ts";

export type RespArg = string | number;
/** Sends one command, its name first; rejects past the deadline. */
export type RespSend = (command: RespArg[]) => Promise<unknown>;

export interface LuaScript {
  source: string;
  sha: string;
  /** How many KEYS it takes, when fixed: a call with another count fails before reaching Redis. */
  keys?: number;
}

export const luaScript = (source: string, { keys }: { keys?: number } = {}): LuaScript => ({
  source,
  sha: sha1(source),
  keys,
});

/**
 * `now_ms()` for a script: Redis's own clock (ms), so that every edge and core agrees on "now",
 * whichever machine's clock drifts. Every script that needs the time starts with this.
 */
export const REDIS_CLOCK = `local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end`;

/** Redis's answer when a script is not loaded: the only error after which EVAL follows EVALSHA. */
const isNoScript = (error: unknown) => String(error).includes("NOSCRIPT");

/**
 * Runs `script` by `bySha()`, then by `bySource()` if Redis does not know it yet (after a restart
 * or a flush), once its KEYS count is checked: the one way every client, RESP or REST, runs one.
 */
export function evalScript<T>(
  script: LuaScript,
  keys: string[],
  bySha: () => Promise<T>,
  bySource: () => Promise<T>,
): Promise<T> {
  if (script.keys !== undefined && keys.length !== script.keys)
    return Promise.reject(new Error(`a script that takes ${script.keys} KEYS was given ${keys.length}`));
  return bySha().catch((error: unknown) => (isNoScript(error) ? bySource() : Promise.reject(error)));
}

/** EVALSHA, and EVAL when Redis does not know the script yet. */
export function runScript(send: RespSend, script: LuaScript, keys: string[], args: RespArg[]): Promise<unknown> {
  return evalScript(
    script,
    keys,
    () => send(["EVALSHA", script.sha, keys.length, ...keys, ...args]),
    () => send(["EVAL", script.source, keys.length, ...keys, ...args]),
  );
}
