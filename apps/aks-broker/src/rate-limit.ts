// Per-user rate limit (rate-limiter-flexible) keyed by the Entra object id, in memory or in the
// shared Redis, so one user cannot exhaust the API server or the broker for everyone else.
import type { RequestHandler } from 'express';
import type { Redis } from 'ioredis';
import {
  RateLimiterMemory,
  RateLimiterRedis,
  RateLimiterRes,
  type RateLimiterAbstract,
} from 'rate-limiter-flexible';
import { ServiceUnavailableError, TooManyRequestsError } from '@auth-sidecars/service-kit';
import { callerOf } from './caller.js';
import { STORE_PREFIX } from './constants.js';

export interface RateLimitOptions {
  points: number;
  durationSeconds: number;
  /** Shared counters across replicas when given. */
  redis?: { client: Redis; keyPrefix: string };
}

export function createRateLimiter(options: RateLimitOptions): RateLimiterAbstract {
  const base = { points: options.points, duration: options.durationSeconds };
  if (!options.redis) return new RateLimiterMemory({ ...base, keyPrefix: STORE_PREFIX.rateLimit });
  return new RateLimiterRedis({
    ...base,
    storeClient: options.redis.client,
    keyPrefix: options.redis.keyPrefix + STORE_PREFIX.rateLimit,
    rejectIfRedisNotReady: true,
  });
}

/** Consumes one point for the caller (mount after an authentication step); 429 + retry-after when out. */
export function rateLimitByUser(limiter: RateLimiterAbstract, onLimited?: () => void): RequestHandler {
  return async (_req, res, next) => {
    const key = callerOf(res).user.oid;
    let refusal: Error | undefined;
    try {
      await limiter.consume(key, 1);
    } catch (rejection) {
      if (rejection instanceof RateLimiterRes) {
        onLimited?.();
        refusal = new TooManyRequestsError(
          rejection.msBeforeNext / 1000,
          'too many requests for this user; retry later',
        );
      } else {
        // The limiter's store failed: fail open would let one user flood the cluster; fail closed is 503.
        refusal = new ServiceUnavailableError(
          'the rate limiter cannot be reached; retry later',
          'store_unavailable',
          { cause: rejection },
        );
      }
    }
    next(refusal);
  };
}
