/**
 * Bearer tokens and scopes, pure. Tokens are compared as SHA-256 digests with
 * `timingSafeEqual`, so neither the length nor any prefix of a configured token leaks
 * through response time, and every configured token is compared on every request.
 */
import { createHash, timingSafeEqual } from "node:crypto";
import type { AdminScope, AdminToken } from "../../shared/config.ts";

export interface Principal {
  name: string;
  scopes: AdminScope[];
}

const digest = (value: string) => createHash("sha256").update(value).digest();

export function tokenChecker(tokens: AdminToken[]): (authorization: string | undefined) => Principal | undefined {
  const known = tokens.map((t) => ({ principal: { name: t.name, scopes: t.scopes }, digest: digest(t.token) }));
  return (authorization) => {
    // The scheme is case-insensitive (RFC 9110); the token is not.
    const match = /^Bearer +(\S+)$/i.exec(authorization ?? "");
    if (!match) return undefined;
    const presented = digest(match[1]!);
    let found: Principal | undefined;
    for (const k of known) if (timingSafeEqual(k.digest, presented)) found = k.principal;
    return found;
  };
}

/** Whether the principal may act on `region`, or on everything when `region` is "global". */
export function reaches(principal: Principal, region: string | "global"): boolean {
  return principal.scopes.includes("global") || (region !== "global" && principal.scopes.includes(`region:${region}`));
}
