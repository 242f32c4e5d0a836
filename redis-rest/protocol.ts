/**
 * The Upstash REST protocol, pure parts: what a request body must look like and how a Redis
 * reply is put into JSON. Kept apart from I/O so the encoding rules are tested directly.
 */
import { createHash, timingSafeEqual } from "node:crypto";

export type Command = (string | number)[];

/** Commands that would hold the REST adapter's shared connection, or never return on it. */
const REFUSED = new Set([
  "SUBSCRIBE",
  "PSUBSCRIBE",
  "SSUBSCRIBE",
  "MONITOR",
  "BLPOP",
  "BRPOP",
  "BLMOVE",
  "BRPOPLPUSH",
  "BZPOPMIN",
  "BZPOPMAX",
  "BLMPOP",
  "BZMPOP",
  "WAIT",
  "QUIT",
  "SELECT",
]);

export function isCommand(value: unknown): value is Command {
  return (
    Array.isArray(value) &&
    value.length > 0 &&
    typeof value[0] === "string" &&
    value.every((part) => typeof part === "string" || (typeof part === "number" && Number.isFinite(part)))
  );
}

/** Why a command is refused before it reaches Redis, if it is. */
export function refusal(command: Command): string | undefined {
  const name = String(command[0]).toUpperCase();
  if (REFUSED.has(name)) return `ERR ${name} is not available over REST`;
  if (name === "XREAD" || name === "XREADGROUP") {
    if (command.some((part) => String(part).toUpperCase() === "BLOCK"))
      return `ERR ${name} BLOCK is not available over REST`;
  }
  return undefined;
}

/**
 * The REST API's path form as a command: the path's segments, then a POST's body (the value, as
 * Upstash documents it), then each query parameter as a name and a value (`?EX=100`).
 */
export async function pathCommand(request: Request): Promise<Command | undefined> {
  const url = new URL(request.url);
  let parts: string[];
  try {
    parts = url.pathname.split("/").filter(Boolean).map(decodeURIComponent);
  } catch {
    return undefined;
  }
  if (parts.length === 0) return undefined;
  const value = request.method === "POST" ? await request.text() : "";
  return [...parts, ...(value === "" ? [] : [value]), ...[...url.searchParams].flat()];
}

export type Reply = Buffer | string | number | bigint | null | Reply[];

/**
 * A Redis reply as Upstash sends it: bulk and simple strings as text, or base64 when the client
 * asked for `Upstash-Encoding: base64` (nested arrays included); numbers and null as they are.
 */
export function encodeReply(reply: Reply, base64: boolean): unknown {
  if (reply === null || typeof reply === "number") return reply;
  if (typeof reply === "bigint") return Number(reply);
  if (Array.isArray(reply)) return reply.map((item) => encodeReply(item, base64));
  const bytes = typeof reply === "string" ? Buffer.from(reply) : reply;
  return base64 ? bytes.toString("base64") : bytes.toString("utf8");
}

/** Compares a bearer token in constant time, whatever the lengths. */
export function tokenMatches(expected: string, header: string | undefined): boolean {
  const given = header?.startsWith("Bearer ") ? header.slice("Bearer ".length) : "";
  const digest = (s: string) => createHash("sha256").update(s).digest();
  return timingSafeEqual(digest(expected), digest(given)) && given.length > 0;
}
