/**
 * What a REST token may run, read from the same ACL rules its Redis user has
 * (deploy/redis/users.acl): the REST adapter refuses the rest before it reaches Redis, in the REST
 * protocol's error shape, and holds on a Redis without ACLs too. Pure but for reading the rules.
 */
import { userRules } from "../shared/redis-acl.ts";
import { rulesIn } from "../shared/redis-users.ts";
import type { Command } from "./protocol.ts";

/** Why a command is refused, or undefined when the token may run it. */
export type AllowList = (command: Command) => string | undefined;

/** Where a command's keys are, for every command an allow-list may name (fail closed on others). */
const KEY_POSITIONS: Record<string, "none" | "first" | "all" | "script"> = {
  PING: "none",
  TIME: "none",
  ECHO: "none",
  EVAL: "script",
  EVALSHA: "script",
  EVAL_RO: "script",
  EVALSHA_RO: "script",
  DEL: "all",
  EXISTS: "all",
  UNLINK: "all",
  MGET: "all",
  ...Object.fromEntries(
    [
      "GET",
      "SET",
      "INCR",
      "INCRBY",
      "EXPIRE",
      "PEXPIRE",
      "PEXPIREAT",
      "TTL",
      "PTTL",
      "HGET",
      "HSET",
      "HDEL",
      "HGETALL",
      "HMGET",
      "HINCRBY",
      "HSETNX",
      "ZADD",
      "ZCARD",
      "ZRANK",
      "ZRANGE",
      "ZRANGEBYSCORE",
      "ZREM",
      "ZREMRANGEBYSCORE",
      "ZSCORE",
    ].map((c) => [c, "first" as const]),
  ),
};

/**
 * Granted to the Redis user for its client's own use, not to REST tokens: the ready check (ioredis
 * runs INFO; on a Redis Cluster, CLUSTER INFO) and a cluster's slot map (CLUSTER SLOTS).
 */
const CLIENT_ONLY = new Set(["INFO", "CLUSTER|SLOTS", "CLUSTER|INFO"]);

/** The keys a command names, or undefined when its shape is not known here. */
export function commandKeys(command: Command): string[] | undefined {
  const args = command.slice(1).map(String);
  switch (KEY_POSITIONS[String(command[0]).toUpperCase()]) {
    case "none":
      return [];
    case "first":
      return args.slice(0, 1);
    case "all":
      return args;
    case "script": {
      const count = Number(args[1]);
      return Number.isInteger(count) && count >= 0 ? args.slice(2, 2 + count) : undefined;
    }
    default:
      return undefined;
  }
}

/** Redis's glob (`*` and `?`; the rules use no other) as a RegExp. */
function globToRegExp(glob: string): RegExp {
  const escaped = glob
    .replace(/[.+^${}()|[\]\\]/g, "\\$&")
    .replaceAll("*", ".*")
    .replaceAll("?", ".");
  return new RegExp(`^${escaped}$`, "s");
}

/** An allow-list from ACL rules: `+command` and `~pattern` grant, everything else is refused. */
export function allowList(rules: string[]): AllowList {
  const unsupported = rules.filter(
    (r) => /^(\+@|\+.*\||%|allkeys|allcommands|\+@all)/.test(r) && !CLIENT_ONLY.has(r.slice(1).toUpperCase()),
  );
  if (unsupported.length > 0)
    throw new Error(`allow-list: rules the REST adapter cannot check: ${unsupported.join(" ")}`);
  const commands = new Set(
    rules
      .filter((r) => r.startsWith("+"))
      .map((r) => r.slice(1).toUpperCase())
      .filter((c) => !CLIENT_ONLY.has(c)),
  );
  const unknown = [...commands].filter((c) => !(c in KEY_POSITIONS));
  if (unknown.length > 0)
    throw new Error(`allow-list: the REST adapter does not know where the keys of ${unknown.join(", ")} are`);
  const patterns = rules.filter((r) => r.startsWith("~")).map((r) => globToRegExp(r.slice(1)));

  return (command) => {
    const name = String(command[0]).toUpperCase();
    if (!commands.has(name)) return `NOPERM this token may not run '${name.toLowerCase()}'`;
    const keys = commandKeys(command);
    if (keys === undefined) return `ERR wrong number of arguments for '${name.toLowerCase()}'`;
    const outside = keys.find((key) => !patterns.some((p) => p.test(key)));
    return outside === undefined ? undefined : `NOPERM this token may not touch the key '${outside}'`;
  };
}

/** What the edge's token may run in `region`: what its Redis user may (deploy/redis/users.acl). */
export const edgeAllowList = (region: string): AllowList => allowList(rulesIn(userRules(), "edge", region));

/** For a REST adapter whose token stands for the whole Redis (tests of the protocol itself). */
export const allowEverything: AllowList = () => undefined;
