// Exponential backoff with jitter, for every loop that retries forever (auth-core's token refresh,
// carta-forwardauth's informers): many replicas failing together spread their retries instead of
// hitting the identity provider or the API server in waves.

export interface RetryPolicy {
  initialMs: number;
  maxMs: number;
}

/**
 * `full`: a uniform draw in [0, ceiling) (AWS architecture blog's "full jitter"), the most spread.
 * `half`: a draw in [ceiling/2, ceiling], never below half the ceiling (a re-list storm stays slow).
 */
export type Jitter = 'full' | 'half';

/**
 * The wait before retry number `attempt` (counted from 1): the ceiling is
 * min(maxMs, initialMs * 2^(attempt-1)), the draw within it is `jitter`'s.
 */
export function backoffDelay(
  attempt: number,
  policy: RetryPolicy,
  random: () => number = Math.random,
  jitter: Jitter = 'full',
): number {
  const exponent = Math.max(0, Math.min(attempt - 1, 30));
  const ceiling = Math.min(policy.maxMs, policy.initialMs * 2 ** exponent);
  if (jitter === 'half') return Math.round(ceiling / 2 + random() * (ceiling / 2));
  return Math.floor(random() * ceiling);
}
