// Readiness from a TokenProvider's status, shared by the token-injecting proxies' /readyz.
export interface TokenStatusLike {
  valid: boolean;
  expiresAt: Date | undefined;
  refreshAt: Date | undefined;
  lastError: string | undefined;
  consecutiveFailures: number;
}

export function tokenReadiness(
  status: () => TokenStatusLike,
): () => { ready: boolean; details: Record<string, unknown> } {
  return () => {
    const s = status();
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
