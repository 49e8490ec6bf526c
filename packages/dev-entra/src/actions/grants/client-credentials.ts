// grant_type=client_credentials: an app-only token for `<resource>/.default`, the app's roles in it.
import type { Request } from 'express';
import { resourceOf } from '../../claims.js';
import { authenticateClient } from '../../client-auth.js';
import { errors } from '../../errors.js';
import { str, type Params } from '../../params.js';
import type { Provider } from '../../provider.js';
import type { LogDetails } from '../../request-log.js';

export async function clientCredentials(
  provider: Provider,
  req: Request,
  body: Params,
  details: LogDetails,
): Promise<Record<string, unknown>> {
  const scope = str(body.scope);
  if (!scope) throw errors.missingParameter('scope');
  const { app, method } = await authenticateClient(provider, req, body, details);
  details.clientId = app.clientId;
  const scopes = scope.split(/\s+/).filter(Boolean);
  for (const s of scopes) {
    if (!s.endsWith('/.default')) {
      throw errors.invalidScope(
        s,
        'Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).',
      );
    }
  }
  const { resource } = resourceOf(scopes);
  const azpacr = method === 'secret' ? '1' : '2';
  const lifetime = provider.claims.lifetimeSeconds;
  const accessToken = provider.claims.appAccessToken(
    app.clientId,
    app.servicePrincipalId,
    resource,
    app.roles,
    azpacr,
    lifetime,
  );
  return {
    token_type: 'Bearer',
    expires_in: lifetime,
    ext_expires_in: lifetime,
    access_token: accessToken,
  };
}
