/**
 * The relay lease (lease.lua): of a region's cores, the one holding it runs the relay; the others
 * wait, and one of them takes over within `ttlMs` of the holder's death.
 */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { relayLeaseKey } from "../../shared/keys.ts";
import { luaScript, runScript, type RespSend } from "../../shared/lua.ts";

const script = luaScript(readFileSync(fileURLToPath(new URL("./lease.lua", import.meta.url).href), "utf8"), {
  keys: 1,
});

/** Takes or renews the lease for `holder`; true while it holds it. */
export function relayLease(send: RespSend, region: string, holder: string, ttlMs: number): () => Promise<boolean> {
  return async () => (await runScript(send, script, [relayLeaseKey(region)], [holder, ttlMs])) === 1;
}
