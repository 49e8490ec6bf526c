// The App Service managed-identity protocol (api-version 2019-08-01), as the Azure SDKs'
// ManagedIdentityCredential speaks it when IDENTITY_ENDPOINT and IDENTITY_HEADER are set:
//   GET <IDENTITY_ENDPOINT>?resource=<r>&api-version=2019-08-01[&client_id|object_id|principal_id|mi_res_id=..]
//   X-IDENTITY-HEADER: <IDENTITY_HEADER>
// Success: { access_token, expires_on, expires_in, resource, token_type, client_id } with the
// numbers as strings, as App Service sends them (MSAL .NET/Java read strings; msal-node, Python accept both).
// Errors: { statusCode, message, correlationId }, which MSAL surfaces as the error description.
import { randomUUID } from 'node:crypto';
import { AppError } from '@auth-sidecars/service-kit';
import { APP_SERVICE_API_VERSION, HEADERS } from '../constants.js';
import type { Issuer } from '../issuer.js';
import {
  epochSeconds,
  managedIdentityAsk,
  requestIdOf,
  secondsLeft,
  singleHeader,
  type TokenDoor,
} from './common.js';

export interface AppServiceResponse {
  access_token: string;
  expires_on: string;
  expires_in: string;
  resource: string;
  token_type: 'Bearer';
  client_id: string;
}

export interface AppServiceError {
  statusCode: number;
  message: string;
  correlationId: string;
}

const API_VERSIONS = [APP_SERVICE_API_VERSION];

export function appServiceDoor(issuer: Issuer): TokenDoor {
  return {
    protocol: 'app-service',
    async answer(request): Promise<AppServiceResponse> {
      const client = issuer.authenticate(singleHeader(request.headers, HEADERS.identityHeader), request.ctx);
      const { resource, scope, selector } = managedIdentityAsk(
        request,
        issuer,
        client,
        API_VERSIONS,
        `api-version must be ${APP_SERVICE_API_VERSION}`,
      );
      const { token, identity } = await issuer.issue(client, scope, request.ctx, selector);
      return {
        access_token: token.token,
        expires_on: String(epochSeconds(token.expiresOnTimestamp)),
        expires_in: String(secondsLeft(token.expiresOnTimestamp)),
        resource,
        token_type: 'Bearer',
        client_id: identity().clientId ?? '',
      };
    },
    // App Service's error shape; messages of server errors are not exposed.
    errorResponse(err, req) {
      const status = err instanceof AppError ? err.status : 500;
      const message = err instanceof AppError && err.expose ? err.message : 'internal error';
      const body: AppServiceError = {
        statusCode: status,
        message,
        correlationId: requestIdOf(req) ?? randomUUID(),
      };
      return { status, headers: err instanceof AppError ? err.headers : {}, body };
    },
  };
}
