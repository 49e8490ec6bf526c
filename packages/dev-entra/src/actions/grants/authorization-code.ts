// grant_type=authorization_code: a single-use code for the client and redirect URI it was issued
// to, with the PKCE verifier (S256 or plain) when the authorize request carried a challenge.
import { createHash } from 'node:crypto';
import type { Request } from 'express';
import { authenticateClient } from '../../client-auth.js';
import { errors } from '../../errors.js';
import { preview, str, type Params } from '../../params.js';
import type { Provider } from '../../provider.js';
import type { LogDetails } from '../../request-log.js';
import { userTokenResponse } from './user-tokens.js';

export async function authorizationCode(
  provider: Provider,
  req: Request,
  body: Params,
  details: LogDetails,
): Promise<Record<string, unknown>> {
  const code = str(body.code);
  if (!code) throw errors.missingParameter('code');
  const redirectUri = str(body.redirect_uri);
  if (!redirectUri) throw errors.missingParameter('redirect_uri');
  const { app } = await authenticateClient(provider, req, body, details);
  details.clientId = app.clientId;
  details.note = `code=${preview(code)}`;
  const record = provider.grants.code(code);
  if (!record) throw errors.codeInvalid();
  if (record.used) throw errors.codeRedeemed();
  record.used = true;
  if (record.clientId !== app.clientId) throw errors.codeClientMismatch();
  if (record.redirectUri !== redirectUri) throw errors.redirectMismatch(redirectUri);
  if (record.codeChallenge) {
    const verifier = str(body.code_verifier);
    if (!verifier) throw errors.pkceMissing();
    const computed =
      record.codeChallengeMethod === 'plain'
        ? verifier
        : createHash('sha256').update(verifier).digest('base64url');
    if (computed !== record.codeChallenge) throw errors.pkceMismatch();
  }
  const scope = str(body.scope) ?? record.scope;
  return userTokenResponse(provider, app, record.user, scope, record.nonce, details);
}
