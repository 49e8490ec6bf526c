// Who a /api or /k8s request runs as, however it was authenticated. The session cookie is one way
// in (sessionCaller), a kubectl credential sent as a bearer token the other (credentialCaller, /k8s
// only); the Kubernetes call path, the rate limit, the caps and the audit log only ever see the
// Caller, so both ways in get the same treatment.
import type { RequestHandler, Response } from 'express';
import { AuthError } from '@auth-sidecars/service-kit';
import { HEADERS, PATHS } from './constants.js';
import { CliCredentials } from './credentials.js';
import { SignInRequiredError, type EntraClient } from './entra.js';
import type { BrokerMetrics } from './metrics.js';
import type { Session, SessionUser } from './sessions.js';

export interface Caller {
  user: SessionUser;
  /** The user's own AKS access token (cached; refreshed with the user's own refresh token). */
  token(): Promise<string>;
  /** How the request proved who it is: the browser's session cookie, or a kubectl credential. */
  via: 'session' | 'credential';
  /** The kubectl credential's id (not its secret), for the audit log. */
  credentialId?: string;
  /**
   * Is the credential still live? Long-lived streams ask every CREDENTIAL_RECHECK_MS and end when it
   * is not (revoked, expired, its sign-in ended), so a watch or an exec outlives none of these.
   */
  stillValid?(): Promise<boolean>;
}

/** The caller set by an authentication step; a route mounted without one is a wiring bug. */
export function callerOf(res: Response): Caller {
  const caller = res.locals.caller as Caller | undefined;
  if (!caller) throw new Error('no caller on this request: mount the route after an authentication step');
  return caller;
}

/** The signed-in browser session as the caller; 401 with a pointer to /login without one. */
export function sessionCaller(entra: Pick<EntraClient, 'aksToken'>): RequestHandler {
  return (_req, res, next) => {
    const session = res.locals.session as Session | undefined;
    if (!session)
      return next(new AuthError('sign in first', 'login_required', { 'x-login-url': PATHS.login }));
    const caller: Caller = {
      user: session.user,
      token: async () => (await entra.aksToken(session.user, session.cacheKey)).accessToken,
      via: 'session',
    };
    res.locals.caller = caller;
    next();
  };
}

/** True for a request that brought its own credential (kubectl): browser-only rules do not apply. */
export function isCliRequest(res: Response): boolean {
  return res.locals.cli === true;
}

/** Runs `handler` for browser requests only (the CSRF and other-site guards, the session cookie). */
export function forBrowsers(handler: RequestHandler): RequestHandler {
  return (req, res, next) => (isCliRequest(res) ? next() : handler(req, res, next));
}

const REASONS: Record<number, string> = {
  400: 'BadRequest',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'NotFound',
  409: 'Conflict',
  429: 'TooManyRequests',
  502: 'InternalError',
  503: 'ServiceUnavailable',
  504: 'Timeout',
};

/**
 * The broker's own error answers to kubectl as a Kubernetes Status (what kubectl prints: "error:
 * You must be logged in to the server (<message>)"), with the broker's `{ error }` object kept inside.
 */
export function kubeStatusBody(status: number, body: unknown): unknown {
  const error = (body as { error?: { code?: unknown; message?: unknown } } | undefined)?.error;
  if (!error || typeof error.message !== 'string') return body;
  return {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message: error.message,
    reason: REASONS[status] ?? (status >= 500 ? 'InternalError' : 'BadRequest'),
    code: status,
    error,
  };
}

/**
 * `Authorization: Bearer <kubectl credential>` as the caller. Any Authorization header makes the
 * request a CLI request: the cookie is then never looked at (no fallback from a bad bearer to the
 * browser's session), and a browser cannot be made to send one cross-site without a CORS preflight
 * the broker never grants, so the browser-only guards have nothing to protect. A bearer that is not
 * a live credential is 401.
 */
export function credentialCaller(deps: {
  credentials: CliCredentials;
  entra: Pick<EntraClient, 'aksToken'>;
  publicUrl: string;
  metrics?: BrokerMetrics;
}): RequestHandler {
  const refused = (message: string) =>
    new AuthError(message, 'invalid_credential', { 'www-authenticate': 'Bearer realm="aks-broker"' });
  return async (req, res, next) => {
    const header = req.headers[HEADERS.authorization];
    if (header === undefined) return next();
    res.locals.cli = true;
    const json = res.json.bind(res);
    res.json = (body: unknown) => json(kubeStatusBody(res.statusCode, body));
    try {
      const bearer = /^Bearer +([^\s]+) *$/i.exec(header)?.[1];
      const found = bearer === undefined ? undefined : await deps.credentials.verify(bearer);
      if (!found) {
        deps.metrics?.credentials.inc({ event: 'refused' });
        return next(
          refused(
            CliCredentials.isCredential(bearer ?? '')
              ? `this kubectl credential has expired or was revoked; get a new kubeconfig at ${deps.publicUrl}/`
              : `not a credential of this broker; get a kubeconfig at ${deps.publicUrl}/`,
          ),
        );
      }
      const { record } = found;
      const caller: Caller = {
        user: record.user,
        token: async () => {
          try {
            return (await deps.entra.aksToken(record.user, record.cacheKey)).accessToken;
          } catch (error) {
            if (error instanceof SignInRequiredError)
              throw new AuthError(
                `the sign-in behind this kubectl credential has ended; sign in at ${deps.publicUrl}/ and get a new kubeconfig`,
                'login_required',
              );
            throw error;
          }
        },
        via: 'credential',
        credentialId: record.id,
        stillValid: async () => (await deps.credentials.verify(bearer!)) !== undefined,
      };
      res.locals.caller = caller;
      next();
    } catch (error) {
      next(error);
    }
  };
}
