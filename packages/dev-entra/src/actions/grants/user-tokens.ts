// The token response of the user grants (authorization code, refresh token): access token, the
// granted scopes, a rotating refresh token with offline_access, an id token with openid, client_info.
import { resourceOf } from '../../claims.js';
import { OIDC_SCOPES } from '../../constants.js';
import type { DemoUser } from '../../model.js';
import type { Provider } from '../../provider.js';
import type { AppRecord } from '../../registry.js';
import type { LogDetails } from '../../request-log.js';

export function userTokenResponse(
  provider: Provider,
  app: AppRecord,
  user: DemoUser,
  scope: string,
  nonce: string | undefined,
  details: LogDetails,
): Record<string, unknown> {
  const { claims, grants, endpoints } = provider;
  const scopes = scope.split(/\s+/).filter(Boolean);
  const scopeSet = new Set(scopes);
  const { resource, permissions } = resourceOf(scopes);
  const lifetime = claims.lifetimeSeconds;
  const accessToken = claims.userAccessToken(user, app.clientId, resource, permissions, lifetime);
  const granted = [
    ...scopes.filter((s) => !OIDC_SCOPES.has(s)),
    ...['openid', 'profile', 'email'].filter((s) => scopeSet.has(s)),
  ];
  if (granted.filter((s) => !OIDC_SCOPES.has(s)).length === 0) granted.unshift(`${resource}/User.Read`);
  const answer: Record<string, unknown> = {
    token_type: 'Bearer',
    scope: granted.join(' '),
    expires_in: lifetime,
    ext_expires_in: lifetime,
    access_token: accessToken,
  };
  if (scopeSet.has('offline_access'))
    answer.refresh_token = grants.issueRefreshToken(app.clientId, user, scope);
  if (scopeSet.has('openid')) answer.id_token = claims.idToken(user, app.clientId, nonce, scopeSet);
  answer.client_info = Buffer.from(JSON.stringify({ uid: user.oid, utid: endpoints.tenantId })).toString(
    'base64url',
  );
  details.note = `user=${user.upn}`;
  return answer;
}
