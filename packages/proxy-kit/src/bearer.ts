// The bearer side of forwarding, shared by plain requests (forwarder.ts) and WebSocket upgrades
// (upgrade.ts): what the engine needs from a token source, the token to replay an upstream 401 with,
// and how a token source's failure reaches the client. The token source owns the throttle of forced
// refreshes; the engine keeps no clock of its own.
import { TokenUnavailableError } from '@auth-sidecars/auth-core';
import { AppError, ServiceUnavailableError } from '@auth-sidecars/service-kit';

/** What the engine needs from auth-core's TokenProvider (a static source satisfies it too). */
export interface BearerSource {
  /** Memory read while a valid token is cached; rejects (TokenUnavailableError) when none can be had. */
  getToken(): Promise<{ token: string }>;
  /** Synchronous peek at a valid cached token: skips a promise hop on the hot path. */
  current?(): { token: string } | undefined;
  /**
   * Forced refresh. The source owns single-flight and the minimum interval between forced refreshes
   * (auth-core's TokenProvider): within it, it answers with the token already held, and the engine,
   * seeing the token it used, passes the upstream's 401 through instead of replaying.
   */
  invalidate(): Promise<{ token: string }>;
}

/**
 * The token to replay an upstream 401 with: one newer than `used` if held already, else the answer
 * of a forced refresh - which is `used` again when the token source holds its refreshes back, and
 * then there is nothing to replay (the caller passes the 401 through). Rejects with the AppError the
 * client gets.
 */
export function freshBearer(
  tokens: BearerSource,
  used: string,
  log?: {
    logger: { debug(message: string, meta?: Record<string, unknown>): unknown } | undefined;
    path: string;
  },
): Promise<string> {
  const cur = tokens.current?.();
  if (cur !== undefined && cur.token !== used) return Promise.resolve(cur.token);
  log?.logger?.debug('upstream said 401: forcing a token refresh', { path: log.path });
  return tokens.invalidate().then(
    (t) => t.token,
    (err: unknown) => {
      throw tokenSourceError(err);
    },
  );
}

/**
 * A failure of the token source as the client gets it: auth-core's TokenUnavailableError (HTTP-free)
 * becomes a 503 `token_unavailable` with its reason and retry-after; an AppError stays as it is;
 * anything else a source may throw becomes a 503 `token_unavailable`, never a 502 that would blame
 * the upstream.
 */
export function tokenSourceError(err: unknown): AppError {
  if (err instanceof AppError) return err;
  if (err instanceof TokenUnavailableError) {
    return new ServiceUnavailableError(err.message, err.code, {
      cause: err,
      retryAfterSeconds: err.retryAfterSeconds,
    });
  }
  return new ServiceUnavailableError('no valid token for the upstream', 'token_unavailable', { cause: err });
}

/**
 * After an upstream 401 (plain request or upgrade): a newer token from `replay` is tried once more; the
 * same token as `sent` (the source held its refresh back) leaves the held 401 as the answer, or
 * `bodyError` when the request body failed meanwhile.
 */
export function replayAfter401(
  replay: Promise<string>,
  sent: string,
  host: { attempt(bearer: string): void; fail(err: unknown): void },
  answerHeld: () => void,
  bodyError?: Error,
): void {
  replay.then(
    (token) => {
      if (token !== sent) host.attempt(token);
      else if (bodyError === undefined) answerHeld();
      else host.fail(bodyError);
    },
    (err: unknown) => host.fail(err),
  );
}
