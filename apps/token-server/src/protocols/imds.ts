// Optional IMDS emulation (`GET /metadata/identity/oauth2/token`, `Metadata: true`). SDKs reach it
// without privileges through AZURE_POD_IDENTITY_AUTHORITY_HOST (msal-node, Python, .NET honour it).
// IMDS carries no secret, so every such request is attributed to one configured client
// (TOKEN_SERVER_IMDS_CLIENT) whose allow-list applies; anyone who can reach the port can use it.
import { AppError, AuthError, BadRequestError } from '@auth-sidecars/service-kit';
import { HEADERS, IMDS_API_VERSIONS } from '../constants.js';
import type { Issuer } from '../issuer.js';
import type { Client } from '../policy.js';
import { epochSeconds, managedIdentityAsk, secondsLeft, singleHeader, type TokenDoor } from './common.js';

export interface ImdsResponse {
  access_token: string;
  client_id: string;
  expires_in: string;
  expires_on: string;
  ext_expires_in: string;
  not_before: string;
  resource: string;
  token_type: 'Bearer';
}

export function imdsDoor(issuer: Issuer, imdsClient: () => Client | undefined): TokenDoor {
  return {
    protocol: 'imds',
    async answer(request): Promise<ImdsResponse> {
      const { headers, ctx } = request;
      // Real IMDS refuses proxied requests and requests without the header (SSRF protection).
      if (singleHeader(headers, HEADERS.metadata)?.toLowerCase() !== 'true') {
        issuer.reject(
          new BadRequestError('Required metadata header not specified', 'invalid_request'),
          'bad_request',
          ctx,
        );
      }
      if (headers[HEADERS.forwardedFor] !== undefined) {
        issuer.reject(
          new BadRequestError('Request contains X-Forwarded-For header', 'invalid_request'),
          'bad_request',
          ctx,
        );
      }
      const client = imdsClient();
      if (!client)
        issuer.reject(new AuthError('IMDS client not configured', 'unauthorized'), 'unauthenticated', ctx);
      const { resource, scope, selector } = managedIdentityAsk(
        request,
        issuer,
        client,
        IMDS_API_VERSIONS,
        'Missing or invalid api-version',
      );
      const { token, identity } = await issuer.issue(client, scope, ctx, selector);
      const left = String(secondsLeft(token.expiresOnTimestamp));
      return {
        access_token: token.token,
        client_id: identity().clientId ?? '',
        expires_in: left,
        expires_on: String(epochSeconds(token.expiresOnTimestamp)),
        ext_expires_in: left,
        not_before: String(epochSeconds(Date.now())),
        resource,
        token_type: 'Bearer',
      };
    },
    // IMDS's OAuth-style error shape: `{ error, error_description }`.
    errorResponse(err) {
      const status = err instanceof AppError ? err.status : 500;
      const exposed = err instanceof AppError && err.expose;
      return {
        status,
        headers: {},
        body: {
          error: exposed ? err.code : 'server_error',
          error_description: exposed ? err.message : 'internal error',
        },
      };
    },
  };
}
