// grant_type=refresh_token: a refresh token issued to this client; the answer always carries a new
// (rotated) refresh token.
import type { Request } from 'express';
import { authenticateClient } from '../../client-auth.js';
import { errors } from '../../errors.js';
import { preview, str, type Params } from '../../params.js';
import type { Provider } from '../../provider.js';
import type { LogDetails } from '../../request-log.js';
import { userTokenResponse } from './user-tokens.js';

export async function refreshToken(
  provider: Provider,
  req: Request,
  body: Params,
  details: LogDetails,
): Promise<Record<string, unknown>> {
  const token = str(body.refresh_token);
  if (!token) throw errors.missingParameter('refresh_token');
  const { app } = await authenticateClient(provider, req, body, details);
  details.clientId = app.clientId;
  details.note = `refresh_token=${preview(token)}`;
  const record = provider.grants.refreshToken(token, app.clientId);
  if (!record) throw errors.refreshInvalid();
  const scope = str(body.scope) ?? record.scope;
  const requested = new Set(scope.split(/\s+/).filter(Boolean));
  // A refresh always yields a new (rotated) refresh token.
  const withOffline = requested.has('offline_access') ? scope : `${scope} offline_access`;
  return userTokenResponse(provider, app, record.user, withOffline, undefined, details);
}
