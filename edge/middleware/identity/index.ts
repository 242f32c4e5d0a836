/**
 * Who the client is: the `sub` of a verified JWT, or, in an explicit development mode only,
 * the `X-User-Id` header. A user id in a request body is never read. A token must expire
 * (`exp`; one without would be a password forever) and, when configured, name this service
 * (`aud`) and its issuer (`iss`): an identity provider signs tokens for other services too.
 */
import type { MiddlewareHandler } from "hono";
import { createRemoteJWKSet, jwtVerify, type JWTVerifyGetKey } from "jose";
import { problem, problemResponse } from "../../../shared/problems.ts";

export type IdentityVariables = { userId: string };

export interface IdentityOptions {
  trustUserHeader: boolean;
  jwtSecret?: string;
  jwksUrl?: string;
  jwtAudience?: string;
  jwtIssuer?: string;
}

/** Seconds a token's times may be off: clocks between the identity provider and the edge drift. */
export const CLOCK_LEEWAY_SECONDS = 30;

/** What a user id may look like: it becomes part of Redis keys and log lines. */
const USER_ID = /^[A-Za-z0-9._:@|-]{1,128}$/;

const deny = (detail: string) => problemResponse(problem("unauthenticated", detail), { "WWW-Authenticate": "Bearer" });

export function identity(options: IdentityOptions): MiddlewareHandler<{ Variables: IdentityVariables }> {
  if (!options.trustUserHeader && !options.jwtSecret && !options.jwksUrl) {
    throw new Error(
      "the edge needs FLUX_GATE_JWT_SECRET or FLUX_GATE_JWKS_URL (or FLUX_GATE_DEV_IDENTITY=1 for local runs)",
    );
  }
  const key: Uint8Array | JWTVerifyGetKey | undefined = options.jwksUrl
    ? createRemoteJWKSet(new URL(options.jwksUrl))
    : options.jwtSecret
      ? new TextEncoder().encode(options.jwtSecret)
      : undefined;
  const algorithms = options.jwksUrl ? ["RS256", "ES256", "EdDSA"] : ["HS256"];

  return async (c, next) => {
    let userId: string | undefined;
    if (options.trustUserHeader) {
      userId = c.req.header("X-User-Id");
    } else {
      const header = c.req.header("Authorization") ?? "";
      if (!header.startsWith("Bearer ")) return deny("send a JWT as Authorization: Bearer <token>");
      try {
        const { payload } = await jwtVerify(header.slice(7), key as Uint8Array, {
          algorithms,
          requiredClaims: ["exp"],
          audience: options.jwtAudience,
          issuer: options.jwtIssuer,
          clockTolerance: CLOCK_LEEWAY_SECONDS,
        });
        userId = typeof payload.sub === "string" ? payload.sub : undefined;
      } catch (error) {
        return deny(`the token is not valid: ${(error as { code?: string }).code ?? "ERR_JWT_INVALID"}`);
      }
    }
    if (!userId || !USER_ID.test(userId)) return deny("no usable user id (1-128 letters, digits and ._:@|-)");
    c.set("userId", userId);
    await next();
  };
}
