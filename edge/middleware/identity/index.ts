/**
 * Who the client is, and where their home region is: the `sub` of a verified JWT and its home
 * region claim, or, in an explicit development mode only, the `X-User-Id` and `X-Home-Region`
 * headers. A user id in a request body is never read. A token must expire (`exp`; one without
 * would be a password forever) and, when configured, name this service (`aud`) and its issuer
 * (`iss`): an identity provider signs tokens for other services too.
 *
 * The home is resolved here, once, the same on every runtime; every later step reads
 * `homeRegion` (shared/home-region.ts says why it never comes from the request's country).
 */
import type { MiddlewareHandler } from "hono";
import { createRemoteJWKSet, jwtVerify, type JWTVerifyGetKey } from "jose";
import type { Config } from "../../../shared/config.ts";
import { resolveHome } from "../../../shared/home-region.ts";
import { problem, problemResponse } from "../../../shared/problems.ts";

export type IdentityVariables = { userId: string; homeRegion: string };

/** The edge's identity settings (shared/config/types.ts documents each). */
export type IdentityOptions = Pick<
  Config["edge"],
  | "trustUserHeader"
  | "jwtSecret"
  | "jwksUrl"
  | "jwtAudience"
  | "jwtIssuer"
  | "jwtHomeRegionClaim"
  | "jwtHomeRegionRequired"
>;

/** Seconds a token's times may be off: clocks between the identity provider and the edge drift. */
export const CLOCK_LEEWAY_SECONDS = 30;

/** What a user id may look like: it becomes part of Redis keys and log lines. */
const USER_ID = /^[A-Za-z0-9._:@|-]{1,128}$/;

const deny = (detail: string) => problemResponse(problem("unauthenticated", detail), { "WWW-Authenticate": "Bearer" });

export function identity(
  options: IdentityOptions,
  regionIds: readonly string[],
): MiddlewareHandler<{ Variables: IdentityVariables }> {
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
  const claim = options.jwtHomeRegionClaim;

  return async (c, next) => {
    let userId: string | undefined;
    let named: unknown;
    if (options.trustUserHeader) {
      userId = c.req.header("X-User-Id");
      named = c.req.header("X-Home-Region");
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
        named = payload[claim];
        if (named === undefined && options.jwtHomeRegionRequired)
          return problemResponse(
            problem("unknown_home_region", `the token has no ${claim} claim, which this edge requires`),
          );
      } catch (error) {
        return deny(`the token is not valid: ${(error as { code?: string }).code ?? "ERR_JWT_INVALID"}`);
      }
    }
    if (!userId || !USER_ID.test(userId)) return deny("no usable user id (1-128 letters, digits and ._:@|-)");
    // A claim that is there but not a string names no region this deployment could have.
    const home = resolveHome(userId, named === undefined ? undefined : String(named), regionIds);
    if (home.kind === "unknown")
      return problemResponse(
        problem(
          "unknown_home_region",
          `the identity's home region is not one of ${regionIds.join(", ")}; its buyer's allowance lives nowhere here`,
        ),
      );
    c.set("userId", userId);
    c.set("homeRegion", home.region);
    await next();
  };
}
