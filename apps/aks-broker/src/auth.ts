// Sign-in, callback and sign-out (authorization code + PKCE through MSAL), and the session loading
// the protected routes share. A sign-in can only be finished in the browser that began it (its state
// travels in a sealed cookie there), once; each sign-in gets a new session id.
import express, { Router, type Request, type RequestHandler, type Response } from 'express';
import { AuthError, BadRequestError, ForbiddenError, type Logger } from '@auth-sidecars/service-kit';
import { HEADERS, PATHS, SECURITY_HEADERS } from './constants.js';
import { clearCookie, readCookie, serializeCookie, type CookieSigner } from './cookies.js';
import type { EntraClient } from './entra.js';
import { safeReturnTo } from './return-to.js';
import type { LoginStates } from './login-state.js';
import { randomId, type Session, type SessionStore } from './sessions.js';
import type { TokenCachePartitions } from './token-cache.js';
import type { BrokerMetrics } from './metrics.js';
import type { CliCredentials } from './credentials.js';

export interface AuthDeps {
  entra: EntraClient;
  sessions: SessionStore;
  logins: LoginStates;
  partitions: TokenCachePartitions;
  /** The session's kubectl credentials end with it. */
  credentials: CliCredentials;
  signer: CookieSigner;
  cookie: { name: string; secure: boolean };
  publicUrl: string;
  logger: Logger;
  metrics?: BrokerMetrics;
}

/** The session id from the signed cookie, if the signature holds. */
function sessionIdOf(
  cookieHeader: string | undefined,
  deps: Pick<AuthDeps, 'signer' | 'cookie'>,
): string | undefined {
  const raw = readCookie(cookieHeader, deps.cookie.name);
  return raw === undefined ? undefined : deps.signer.unsign(raw);
}

/** Loads the session into res.locals.session; optional ones never fail. */
export function loadSession(deps: Pick<AuthDeps, 'signer' | 'cookie' | 'sessions'>): RequestHandler {
  return async (req, res, next) => {
    try {
      const id = sessionIdOf(req.headers.cookie, deps);
      const session = id === undefined ? undefined : await deps.sessions.get(id);
      if (session) {
        res.locals.session = session;
        res.locals.sessionId = id;
      }
      next();
    } catch (error) {
      next(error);
    }
  };
}

/**
 * /api and /k8s serve our own page and scripts, never another site: whatever the method, a request
 * the browser marks as sent from elsewhere (Sec-Fetch-Site cross-site or same-site: a link, a form,
 * an <img>, a <script>) is refused before it can act as the user. A GET can act too: a pod's web
 * app behind `proxy` may change things on GET, and a watch holds one of the user's stream slots.
 */
export const refuseOtherSites: RequestHandler = (req, _res, next) => {
  const site = req.headers['sec-fetch-site'];
  if (site === 'cross-site' || site === 'same-site')
    return next(new ForbiddenError('requests from other sites are not served here', 'cross_site'));
  next();
};

/**
 * Unsafe methods need proof that our own page sent them: the custom header (cross-site forms cannot
 * send it; a cross-origin fetch with it needs a CORS preflight the broker never grants) or, where a
 * route takes one, a form token; and whatever the browser tells about the sender (Origin,
 * Sec-Fetch-Site) must say "this origin".
 */
export function csrfGuard(
  publicUrl: string,
  options: { formToken?: (req: Request, res: Response) => boolean } = {},
): RequestHandler {
  const origin = new URL(publicUrl).origin;
  return (req, res, next) => {
    if (req.method === 'GET' || req.method === 'HEAD' || req.method === 'OPTIONS') return next();
    const sentOrigin = req.headers.origin;
    const site = req.headers['sec-fetch-site'];
    const fromHere =
      (sentOrigin === undefined || sentOrigin === origin) &&
      (site === undefined || site === 'same-origin' || site === 'none');
    const proven = req.headers[HEADERS.csrf] !== undefined || (options.formToken?.(req, res) ?? false);
    if (!fromHere || !proven) {
      return next(
        new ForbiddenError(
          `state-changing requests need the ${HEADERS.csrf} header and a same-origin Origin`,
          'csrf',
        ),
      );
    }
    next();
  };
}

export function authRoutes(deps: AuthDeps): Router {
  const router = Router();
  const log = deps.logger.child({ component: 'auth' });
  const noStore = (res: Response) => res.set('cache-control', 'no-store');

  router.get(PATHS.login, async (req, res, next) => {
    try {
      const requested = req.query.returnTo;
      let returnTo = '/';
      if (requested !== undefined) {
        const safe = safeReturnTo(requested);
        if (safe === undefined)
          throw new BadRequestError('returnTo must be a path on this site', 'invalid_return_to');
        returnTo = safe;
      }
      const pkce = await deps.entra.generatePkce();
      const nonce = randomId();
      const { state, setCookies } = deps.logins.begin(
        { codeVerifier: pkce.verifier, nonce, returnTo },
        req.headers.cookie,
      );
      const prompt =
        req.query.prompt === 'select_account' || req.query.prompt === 'login' ? req.query.prompt : undefined;
      const url = await deps.entra.authCodeUrl({ state, nonce, codeChallenge: pkce.challenge, prompt });
      res.append('set-cookie', setCookies);
      noStore(res).redirect(302, url);
    } catch (error) {
      next(error);
    }
  });

  router.get(PATHS.callback, async (req, res, next) => {
    try {
      const { code, state, error } = req.query;
      if (typeof state !== 'string' || state === '') {
        deps.metrics?.signIns.inc({ result: 'invalid_state' });
        throw new BadRequestError('missing state', 'invalid_state');
      }
      // Nothing about this browser's session changes unless the sign-in began in this browser.
      const { login: pending, clear } = deps.logins.find(state, req.headers.cookie);
      if (clear) res.append('set-cookie', clear);
      if (!pending) {
        deps.metrics?.signIns.inc({ result: 'invalid_state' });
        throw new BadRequestError(
          'this sign-in was not started in this browser, has expired or was already used; start again at /login',
          'invalid_state',
        );
      }
      if (typeof error === 'string') {
        deps.metrics?.signIns.inc({ result: 'failure' });
        log.warn('sign-in refused by the identity provider', { error: error.slice(0, 64) });
        throw new AuthError('sign-in was not completed', 'sign_in_failed');
      }
      if (typeof code !== 'string' || code === '')
        throw new BadRequestError('missing code', 'invalid_request');

      const partition = randomId();
      let user;
      try {
        user = await deps.entra.redeem(
          { code, state, returnedState: state, codeVerifier: pending.codeVerifier, nonce: pending.nonce },
          partition,
        );
      } catch (e) {
        deps.metrics?.signIns.inc({ result: 'failure' });
        await deps.partitions.delete(partition);
        throw e;
      }
      if (!(await deps.logins.markRedeemed(pending))) {
        deps.metrics?.signIns.inc({ result: 'invalid_state' });
        await deps.partitions.delete(partition);
        throw new BadRequestError('this sign-in was already used; start again at /login', 'invalid_state');
      }
      // No fixation: whatever session the browser had is dropped, the new one gets a fresh id.
      const previous = sessionIdOf(req.headers.cookie, deps);
      if (previous !== undefined) await dropSession(previous, deps);
      const { id } = await deps.sessions.create(user, partition);
      deps.metrics?.signIns.inc({ result: 'success' });
      log.info('signed in', { user: user.username, oid: user.oid });
      res.append(
        'set-cookie',
        serializeCookie(deps.signer.sign(id), { ...deps.cookie, maxAgeSeconds: deps.sessions.ttlMs / 1000 }),
      );
      // Checked when the sign-in began; checked again here, as this is the string that goes into Location.
      noStore(res).redirect(303, safeReturnTo(pending.returnTo) ?? PATHS.home);
    } catch (error) {
      next(error);
    }
  });

  // Sign-out ends a session, so it is a POST behind the CSRF guard; GET only shows the button.
  router.get(PATHS.logout, async (_req, res, next) => {
    try {
      const session = res.locals.session as Session | undefined;
      const id = res.locals.sessionId as string | undefined;
      // The form's answer redirects to Entra's end-session endpoint: CSP form-action covers redirects.
      const endSession = new URL(await deps.entra.logoutUrl(`${deps.publicUrl}/`)).origin;
      res.set(
        'content-security-policy',
        String(SECURITY_HEADERS['content-security-policy']).replace(
          "form-action 'self'",
          `form-action 'self' ${endSession}`,
        ),
      );
      noStore(res)
        .type('html')
        .send(
          logoutPage(
            session && id ? { username: session.user.username, token: logoutToken(deps, id) } : undefined,
          ),
        );
    } catch (error) {
      next(error);
    }
  });

  const formToken = (req: Request, res: Response) => {
    const id = res.locals.sessionId as string | undefined;
    const sent = (req.body as Record<string, unknown> | undefined)?.[LOGOUT_FORM_FIELD];
    return id !== undefined && typeof sent === 'string' && deps.signer.verifyTag(`logout:${id}`, sent);
  };
  router.post(
    PATHS.logout,
    express.urlencoded({ extended: false, limit: '2kb', parameterLimit: 5 }),
    csrfGuard(deps.publicUrl, { formToken }),
    async (req, res, next) => {
      try {
        const id = sessionIdOf(req.headers.cookie, deps);
        if (id !== undefined) {
          const session = await dropSession(id, deps);
          if (session) log.info('signed out', { user: session.user.username, oid: session.user.oid });
        }
        res.append('set-cookie', clearCookie(deps.cookie));
        noStore(res).redirect(303, await deps.entra.logoutUrl(`${deps.publicUrl}/`));
      } catch (error) {
        next(error);
      }
    },
  );
  return router;
}

const LOGOUT_FORM_FIELD = 'csrf';

/** The sign-out form's token: a MAC of the session id (reveals nothing of it; dies with it). */
function logoutToken(deps: Pick<AuthDeps, 'signer'>, sessionId: string): string {
  return deps.signer.tag(`logout:${sessionId}`);
}

const escapeHtml = (text: string): string => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** GET /logout: a page with a button (no script, so it works under the broker's CSP as it is). */
function logoutPage(signedIn: { username: string; token: string } | undefined): string {
  const body = signedIn
    ? `<p>Sign out <strong>${escapeHtml(signedIn.username)}</strong> from the AKS broker?</p>
      <form method="post" action="${PATHS.logout}">
        <input type="hidden" name="${LOGOUT_FORM_FIELD}" value="${escapeHtml(signedIn.token)}" />
        <button type="submit">Sign out</button>
      </form>
      <p><a href="${PATHS.home}">Back</a></p>`
    : `<p>You are not signed in.</p>
      <p><a href="${PATHS.home}">Back</a></p>`;
  return `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8" />
    <meta name="viewport" content="width=device-width, initial-scale=1" />
    <title>Sign out - AKS broker</title>
    <link rel="stylesheet" href="/static/app.css" />
  </head>
  <body>
    <main id="main">
      <h1>Sign out</h1>
      ${body}
    </main>
  </body>
</html>
`;
}

/**
 * Removes a session, its MSAL cache partition (the refresh token is gone server side) and its
 * kubectl credentials. The session goes first: every credential checks it on each use, so they stop
 * working at that moment even if removing their records fails.
 */
async function dropSession(
  id: string,
  deps: Pick<AuthDeps, 'sessions' | 'partitions' | 'credentials'>,
): Promise<Session | undefined> {
  const session = await deps.sessions.destroy(id);
  if (session) await deps.partitions.delete(session.cacheKey);
  await deps.credentials.revokeAll(deps.sessions.ref(id));
  return session;
}
