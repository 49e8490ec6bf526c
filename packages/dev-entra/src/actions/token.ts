// POST /{tenant}/oauth2/v2.0/token: counts the request, applies injected latency and failures, and
// hands it to its grant.
import type { Request, Response } from 'express';
import { decodeJwt } from 'jose';
import { basicAuth } from '../client-auth.js';
import { errors } from '../errors.js';
import { str, type Params } from '../params.js';
import type { Provider } from '../provider.js';
import { logDetails, type LogDetails } from '../request-log.js';
import { sendError } from '../respond.js';
import { authorizationCode } from './grants/authorization-code.js';
import { clientCredentials } from './grants/client-credentials.js';
import { refreshToken } from './grants/refresh-token.js';

type Grant = (
  provider: Provider,
  req: Request,
  body: Params,
  details: LogDetails,
) => Promise<Record<string, unknown>>;

const GRANTS: Record<string, Grant> = {
  client_credentials: clientCredentials,
  authorization_code: authorizationCode,
  refresh_token: refreshToken,
};

/** The client a token request names (body, Basic, or the subject of its assertion), for the counters. */
function requestedClient(req: Request, body: Params): string | undefined {
  let clientId = str(body.client_id);
  const assertion = str(body.client_assertion);
  if (!clientId) {
    const basic = basicAuth(req);
    if (basic) clientId = basic.clientId;
  }
  if (!clientId && assertion) {
    try {
      clientId = str(decodeJwt(assertion).sub) ?? undefined;
    } catch {
      // reported by the grant
    }
  }
  return clientId;
}

export function tokenEndpoint(provider: Provider) {
  return async (req: Request, res: Response): Promise<void> => {
    const body = (req.body ?? {}) as Params;
    const grant = str(body.grant_type);
    const details = logDetails(res);
    provider.requestLog.countTokenRequest(res, grant, requestedClient(req, body));
    const scope = str(body.scope);
    if (scope) details.scope = scope;
    try {
      await provider.faults.beforeTokenRequest();
      provider.endpoints.tenant(String(req.params.tenant ?? ''));
      if (!grant) throw errors.missingParameter('grant_type');
      const handler = Object.hasOwn(GRANTS, grant) ? GRANTS[grant] : undefined;
      if (!handler) throw errors.unsupportedGrantType(grant);
      const answer = await handler(provider, req, body, details);
      provider.requestLog.tokenIssued();
      res.set('Cache-Control', 'no-store');
      res.set('Pragma', 'no-cache');
      res.json(answer);
    } catch (err) {
      sendError(req, res, err, provider.faults.retryAfterSeconds);
    }
  };
}
