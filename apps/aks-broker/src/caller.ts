// Who a /api or /k8s request runs as, however it was authenticated. The session cookie is one way
// in (sessionCaller); the Kubernetes call path, the rate limit and the stream cap only ever see the
// Caller, so another way in (a broker credential for kubectl) can reuse them unchanged.
import type { RequestHandler, Response } from 'express';
import { AuthError } from '@auth-sidecars/service-kit';
import { PATHS } from './constants.js';
import type { EntraClient } from './entra.js';
import type { Session, SessionUser } from './sessions.js';

export interface Caller {
  user: SessionUser;
  /** The user's own AKS access token (cached; refreshed with the user's own refresh token). */
  token(): Promise<string>;
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
    };
    res.locals.caller = caller;
    next();
  };
}
