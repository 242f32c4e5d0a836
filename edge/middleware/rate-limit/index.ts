/**
 * Rate limiting with @upstash/ratelimit (sliding window) in the client's regional Redis, with
 * the IETF draft's `RateLimit` and `RateLimit-Policy` headers and `Retry-After` on 429.
 *
 * Fails open: if Redis does not answer within `timeoutMs`, the request goes through. The
 * regional core sheds load on its own (503), so an outage of the limiter's Redis costs
 * fairness, not safety; failing closed would turn it into a full outage.
 */
import type { Context, MiddlewareHandler } from "hono";
import { Ratelimit } from "@upstash/ratelimit";
import type { Redis as Upstash } from "@upstash/redis";
import type { RateLimitSetting } from "../../../shared/config.ts";
import { problem, problemResponse } from "../../../shared/problems.ts";

export interface RateLimitOptions {
  /** Name in the headers, and part of the Redis keys. */
  policy: string;
  setting: RateLimitSetting;
  /** The Redis to count in, per request (the client's region). */
  redis: (c: Context) => Upstash;
  /** Whom to count: a user id, an IP. */
  identify: (c: Context) => string;
  timeoutMs?: number;
}

export function rateLimit({ policy, setting, redis, identify, timeoutMs = 500 }: RateLimitOptions): MiddlewareHandler {
  const limiters = new WeakMap<Upstash, Ratelimit>();
  const limiterFor = (client: Upstash) => {
    let limiter = limiters.get(client);
    if (!limiter) {
      limiter = new Ratelimit({
        redis: client,
        limiter: Ratelimit.slidingWindow(setting.requests, `${setting.windowSeconds} s`),
        prefix: `fg:ratelimit:${policy}`,
        timeout: timeoutMs,
        analytics: false,
      });
      limiters.set(client, limiter);
    }
    return limiter;
  };
  const policyHeader = `"${policy}";q=${setting.requests};w=${setting.windowSeconds}`;

  return async (c, next) => {
    const { success, remaining, reset } = await limiterFor(redis(c)).limit(identify(c));
    const resetSeconds = Math.max(0, Math.ceil((reset - Date.now()) / 1000));
    const headers = { "RateLimit-Policy": policyHeader, RateLimit: `"${policy}";r=${Math.max(0, remaining)};t=${resetSeconds}` };
    if (!success) {
      return problemResponse(problem("rate_limited", `at most ${setting.requests} requests per ${setting.windowSeconds} s`), {
        ...headers,
        "Retry-After": String(Math.max(1, resetSeconds)),
      });
    }
    await next();
    // Each limiter adds its policy: the draft's fields are lists, one item per policy.
    for (const [name, value] of Object.entries(headers)) c.res.headers.append(name, value);
  };
}
