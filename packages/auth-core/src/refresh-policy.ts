// When to refresh a token: a pure function, tested on its own. How long to wait after a failure is
// service-kit's backoffDelay (full jitter), shared with every retry loop of the repo.
import type { AccessToken } from '@azure/core-auth';
import { MIN_USED_FRACTION } from './constants.js';

export interface RefreshPolicy {
  /** Fraction of the lifetime after which to refresh when the IdP gives no refresh time. */
  refreshFraction: number;
  /** Refresh no later than this long before expiry (when the lifetime allows it). */
  maxRefreshAheadMs: number;
}

/**
 * The moment to refresh `token`, obtained at `obtainedAt` (epoch ms):
 * - the IdP's `refreshAfterTimestamp` (Entra's `refresh_in`) when it lies inside the lifetime,
 *   else `obtainedAt + lifetime * refreshFraction`;
 * - but never later than `maxRefreshAheadMs` before expiry - unless that would mean using the token
 *   for less than a quarter of its life (tokens of a few minutes, test tokens of seconds), where
 *   refreshing that early would turn into a refresh storm and the fraction alone decides.
 */
export function computeRefreshAt(token: AccessToken, obtainedAt: number, policy: RefreshPolicy): number {
  const expiresAt = token.expiresOnTimestamp;
  const lifetime = Math.max(0, expiresAt - obtainedAt);
  const refreshAfter = token.refreshAfterTimestamp;
  const preferred =
    refreshAfter !== undefined && refreshAfter > obtainedAt && refreshAfter < expiresAt
      ? refreshAfter
      : obtainedAt + lifetime * policy.refreshFraction;
  const latest = expiresAt - policy.maxRefreshAheadMs;
  const refreshAt =
    latest >= obtainedAt + lifetime * MIN_USED_FRACTION ? Math.min(preferred, latest) : preferred;
  return Math.round(refreshAt);
}
