/**
 * Rate limiting with @upstash/ratelimit (sliding window), with the IETF draft's `RateLimit` and
 * `RateLimit-Policy` headers and `Retry-After` on 429. `rateLimiter` is the decision, used by the
 * order route inside its admission round trip; `rateLimit` is the same as a middleware.
 *
 * Fails open: if Redis does not answer within the edge's deadline (each transport keeps one on
 * every command, so the library's own timer is off), or fails, the request goes through. The
 * regional core sheds load on its own (503), so an outage of the limiter's Redis costs
 * fairness, not safety; failing closed would turn it into a full outage.
 */
import type { Context, MiddlewareHandler } from "hono";
import { Ratelimit } from "@upstash/ratelimit";
import type { Redis as Upstash } from "@upstash/redis";
import type { RateLimitSetting } from "../../../shared/config.ts";
import { problem, problemResponse, type Problem } from "../../../shared/problems.ts";

export interface Verdict {
  success: boolean;
  /** false when Redis did not answer and the request was let through (failing open). */
  answered: boolean;
  headers: Record<string, string>;
  /** The 429 to answer with, when refused: the problem and its headers. */
  refusal(): { body: Problem; headers: Record<string, string> };
}

/** `policy` names the headers and prefixes the Redis keys. */
export function rateLimiter(policy: string, setting: RateLimitSetting) {
  const limiters = new WeakMap<Upstash, Ratelimit>();
  const limiterFor = (client: Upstash) => {
    let limiter = limiters.get(client);
    if (!limiter) {
      limiter = new Ratelimit({
        redis: client,
        limiter: Ratelimit.slidingWindow(setting.requests, `${setting.windowSeconds} s`),
        prefix: `fg:ratelimit:${policy}`,
        timeout: 0,
        analytics: false,
      });
      limiters.set(client, limiter);
    }
    return limiter;
  };
  const policyHeader = `"${policy}";q=${setting.requests};w=${setting.windowSeconds}`;

  return async (client: Upstash, identifier: string): Promise<Verdict> => {
    // A command past its deadline fails like any other: let the request through.
    // In braces: a window's two keys (this one's and the last) hash to one Redis Cluster slot.
    const { success, remaining, reset, answered } = await limiterFor(client)
      .limit(`{${identifier}}`)
      .then(
        (r) => ({ ...r, answered: true }),
        () => ({ success: true, remaining: setting.requests, reset: Date.now(), answered: false }),
      );
    const resetSeconds = Math.max(0, Math.ceil((reset - Date.now()) / 1000));
    const headers = {
      "RateLimit-Policy": policyHeader,
      RateLimit: `"${policy}";r=${Math.max(0, remaining)};t=${resetSeconds}`,
    };
    return {
      success,
      answered,
      headers,
      refusal: () => ({
        body: problem("rate_limited", `at most ${setting.requests} requests per ${setting.windowSeconds} s`),
        headers: { ...headers, "Retry-After": String(Math.max(1, resetSeconds)) },
      }),
    };
  };
}

export type RateLimiter = ReturnType<typeof rateLimiter>;

/** Adds a passed verdict's headers: the draft's fields are lists, one item per policy. */
export function withRateLimitHeaders(response: Response, verdict: Verdict): Response {
  for (const [name, value] of Object.entries(verdict.headers)) response.headers.append(name, value);
  return response;
}

export interface RateLimitOptions {
  limiter: RateLimiter;
  /** The Redis to count in, per request. */
  redis: (c: Context) => Upstash;
  /** Whom to count: a user, an IP. */
  identify: (c: Context) => string;
}

export function rateLimit({ limiter, redis, identify }: RateLimitOptions): MiddlewareHandler {
  return async (c, next) => {
    const verdict = await limiter(redis(c), identify(c));
    if (!verdict.success) {
      const refused = verdict.refusal();
      return problemResponse(refused.body, refused.headers);
    }
    await next();
    withRateLimitHeaders(c.res, verdict);
  };
}
