// Readiness from a TokenProvider's status, shared by the token-injecting proxies' /readyz.
export interface TokenStatusLike {
  valid: boolean;
  expiresAt: Date | undefined;
  refreshAt: Date | undefined;
  lastError: string | undefined;
  consecutiveFailures: number;
}

/**
 * `demand` (the provider's getToken) is called when no valid token is held: the readiness probe
 * counts as demand. An unready pod gets no traffic through its Service, so without this only the
 * background backoff (up to 60 s) would bring the token back after an outage; with it, the next
 * probe may start an attempt (auth-core spaces them by demandRetryIntervalMs). Its outcome is not
 * awaited: the probe answers from the status as it is.
 */
export function tokenReadiness(
  status: () => TokenStatusLike,
  demand?: () => Promise<unknown>,
): () => { ready: boolean; details: Record<string, unknown> } {
  return () => {
    const s = status();
    if (!s.valid) demand?.().catch(() => undefined);
    return {
      ready: s.valid,
      details: {
        tokenValid: s.valid,
        expiresAt: s.expiresAt?.toISOString() ?? null,
        refreshAt: s.refreshAt?.toISOString() ?? null,
        consecutiveFailures: s.consecutiveFailures,
        ...(s.lastError === undefined ? {} : { lastError: s.lastError }),
      },
    };
  };
}
