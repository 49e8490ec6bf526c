// GET/POST /{tenant}/oauth2/v2.0/authorize: checks the client and redirect URI, shows the sign-in
// page (one button per demo user, and Cancel), or signs in silently with prompt=none + login_hint,
// and delivers the code or error by query, fragment or form_post.
import { randomUUID } from 'node:crypto';
import type { Request, Response } from 'express';
import { TX_LIFETIME_MS } from '../constants.js';
import { EntraError, errors } from '../errors.js';
import type { AuthTx } from '../grant-store.js';
import type { DemoUser } from '../model.js';
import { renderErrorPage, renderFormPost, renderSignInPage } from '../pages.js';
import { str, type Params } from '../params.js';
import type { Provider } from '../provider.js';
import { redirectMatches } from '../redirect-uri.js';
import { logDetails } from '../request-log.js';

/** An error the browser sees as a page: there is no redirect URI it may be sent to. */
function errorPage(res: Response, err: EntraError): void {
  logDetails(res).error = `${err.error} AADSTS${err.aadsts}`;
  res.status(400).type('html').send(renderErrorPage(err));
}

/** Sends the authorization response to the redirect URI (query, fragment or form_post). */
function deliver(res: Response, tx: AuthTx, params: Record<string, string>): void {
  const all: Record<string, string> = { ...params };
  if (params.code) all.session_state = randomUUID();
  if (tx.state !== undefined) all.state = tx.state;
  if (params.error) logDetails(res).error = params.error;
  if (tx.responseMode === 'form_post') {
    res.set('Cache-Control', 'no-store');
    res.type('html').send(renderFormPost(tx.redirectUri, all));
    return;
  }
  const target = new URL(tx.redirectUri);
  if (tx.responseMode === 'fragment') {
    target.hash = new URLSearchParams(all).toString();
  } else {
    for (const [key, value] of Object.entries(all)) target.searchParams.set(key, value);
  }
  res.set('Cache-Control', 'no-store');
  res.redirect(302, target.toString());
}

function signIn(provider: Provider, tx: AuthTx, user: DemoUser): string {
  const code = provider.grants.issueCode(tx, user);
  provider.requestLog.codeIssued();
  return code;
}

export function authorize(provider: Provider, req: Request, res: Response, params: Params): void {
  const { endpoints, registry } = provider;
  endpoints.tenant(String(req.params.tenant ?? ''));
  const clientId = str(params.client_id);
  const app = clientId ? registry.app(clientId) : undefined;
  if (!clientId || !app) {
    errorPage(
      res,
      clientId ? errors.appNotFound(clientId, endpoints.tenantId) : errors.missingParameter('client_id'),
    );
    return;
  }
  logDetails(res).clientId = app.clientId;
  const redirectUri = str(params.redirect_uri);
  if (!redirectUri || !app.redirectUris.some((r) => redirectMatches(r, redirectUri))) {
    errorPage(
      res,
      new EntraError(
        400,
        'invalid_request',
        50011,
        `The redirect URI '${redirectUri ?? ''}' specified in the request does not match the redirect URIs configured for the application '${app.clientId}'.`,
      ),
    );
    return;
  }
  const state = str(params.state);
  const responseMode = str(params.response_mode) ?? 'query';
  const tx: AuthTx = {
    app,
    redirectUri,
    scope: str(params.scope) ?? 'openid profile',
    responseMode,
    expiresAt: Date.now() + TX_LIFETIME_MS,
    ...(state ? { state } : {}),
    ...(str(params.nonce) ? { nonce: str(params.nonce) } : {}),
    ...(str(params.code_challenge) ? { codeChallenge: str(params.code_challenge) } : {}),
    ...(str(params.code_challenge_method) ? { codeChallengeMethod: str(params.code_challenge_method) } : {}),
    ...(str(params.login_hint) ? { loginHint: str(params.login_hint) } : {}),
  };
  const responseType = str(params.response_type);
  if (responseType !== 'code') {
    deliver(res, tx, {
      error: 'unsupported_response_type',
      error_description: 'AADSTS700054: response_type must be code.',
    });
    return;
  }
  if (tx.codeChallenge && tx.codeChallengeMethod && !['S256', 'plain'].includes(tx.codeChallengeMethod)) {
    deliver(res, tx, {
      error: 'invalid_request',
      error_description: 'AADSTS501491: Invalid code_challenge_method.',
    });
    return;
  }
  if (str(params.prompt) === 'none') {
    const user = tx.loginHint ? registry.findUser(tx.loginHint) : undefined;
    if (!user) {
      deliver(res, tx, {
        error: 'login_required',
        error_description: 'AADSTS50058: A silent sign-in request was sent but no user is signed in.',
      });
      return;
    }
    deliver(res, tx, { code: signIn(provider, tx, user) });
    return;
  }
  const txId = provider.grants.saveTransaction(tx);
  res.set('Cache-Control', 'no-store');
  res.set('Content-Security-Policy', "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'");
  res.type('html').send(
    renderSignInPage({
      action: `${endpoints.authority}/oauth2/v2.0/authorize`,
      txId,
      appName: app.name,
      scope: tx.scope,
      users: registry.users,
      ...(tx.loginHint ? { loginHint: tx.loginHint } : {}),
    }),
  );
}

/** The sign-in page's form post (a user or Cancel), or a form_post style authorize request. */
export function authorizePost(provider: Provider, req: Request, res: Response): void {
  provider.endpoints.tenant(String(req.params.tenant ?? ''));
  const body = (req.body ?? {}) as Params;
  const txId = str(body.tx);
  if (!txId) {
    // A form_post style authorize request (parameters in the body).
    authorize(provider, req, res, body);
    return;
  }
  const tx = provider.grants.takeTransaction(txId);
  if (!tx) {
    errorPage(
      res,
      new EntraError(
        400,
        'invalid_request',
        50058,
        'The sign-in session expired or is unknown. Start the sign-in again.',
      ),
    );
    return;
  }
  logDetails(res).clientId = tx.app.clientId;
  if (str(body.action) === 'cancel') {
    deliver(res, tx, {
      error: 'access_denied',
      error_description: 'AADSTS65004: User declined to consent to access the app.',
    });
    return;
  }
  const user = provider.registry.findUser(str(body.user) ?? '');
  if (!user) {
    errorPage(
      res,
      new EntraError(400, 'invalid_request', 50034, 'The user account does not exist in this directory.'),
    );
    return;
  }
  logDetails(res).note = `user=${user.upn}`;
  deliver(res, tx, { code: signIn(provider, tx, user) });
}
