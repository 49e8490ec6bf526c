// Errors in Entra ID's token endpoint shape.
import { randomUUID } from 'node:crypto';

/** The JSON body Entra returns for a failed request. */
export interface EntraErrorBody {
  error: string;
  error_description: string;
  error_codes: number[];
  timestamp: string;
  trace_id: string;
  correlation_id: string;
  error_uri?: string;
  suberror?: string;
}

export class EntraError extends Error {
  constructor(
    readonly status: number,
    readonly error: string,
    readonly aadsts: number,
    readonly description: string,
    readonly suberror?: string,
  ) {
    super(`AADSTS${aadsts}: ${description}`);
    this.name = 'EntraError';
  }

  body(correlationId?: string): EntraErrorBody {
    const traceId = randomUUID();
    const correlation = correlationId ?? randomUUID();
    const now = new Date();
    const timestamp = now
      .toISOString()
      .replace('T', ' ')
      .replace(/\.\d+Z$/, 'Z');
    return {
      error: this.error,
      error_description:
        `AADSTS${this.aadsts}: ${this.description} Trace ID: ${traceId} Correlation ID: ${correlation} ` +
        `Timestamp: ${timestamp}`,
      error_codes: [this.aadsts],
      timestamp,
      trace_id: traceId,
      correlation_id: correlation,
      error_uri: `https://login.microsoftonline.com/error?code=${this.aadsts}`,
      ...(this.suberror ? { suberror: this.suberror } : {}),
    };
  }
}

export const errors = {
  missingParameter: (name: string) =>
    new EntraError(
      400,
      'invalid_request',
      900144,
      `The request body must contain the following parameter: '${name}'.`,
    ),
  unsupportedGrantType: (grant: string) =>
    new EntraError(
      400,
      'unsupported_grant_type',
      70003,
      `The app requested an unsupported grant type '${grant}'.`,
    ),
  tenantNotFound: (tenant: string) =>
    new EntraError(
      400,
      'invalid_request',
      90002,
      `Tenant '${tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud.`,
    ),
  appNotFound: (clientId: string, tenantId: string) =>
    new EntraError(
      400,
      'unauthorized_client',
      700016,
      `Application with identifier '${clientId}' was not found in the directory '${tenantId}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant.`,
    ),
  invalidSecret: (clientId: string) =>
    new EntraError(
      401,
      'invalid_client',
      7000215,
      `Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '${clientId}'.`,
    ),
  credentialRequired: () =>
    new EntraError(
      401,
      'invalid_client',
      7000218,
      "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
    ),
  invalidAssertionType: (type: string) =>
    new EntraError(
      400,
      'invalid_request',
      50027,
      `Invalid client_assertion_type '${type}'. Expected 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer'.`,
    ),
  malformedAssertion: (reason: string) =>
    new EntraError(401, 'invalid_client', 50027, `JWT token is invalid or malformed. [Reason - ${reason}]`),
  assertionKeyNotFound: (thumbprint: string, clientId: string) =>
    new EntraError(
      401,
      'invalid_client',
      700027,
      `The certificate with identifier used to sign the client assertion is not registered on application. [Reason - The key was not found., Thumbprint of key used by client: '${thumbprint}', Please visit the Azure Portal, Graph Explorer or directly use MS Graph to see configured keys for app Id '${clientId}'.]`,
    ),
  assertionSignature: (reason: string) =>
    new EntraError(
      401,
      'invalid_client',
      700027,
      `Client assertion contains an invalid signature. [Reason - ${reason}]`,
    ),
  assertionClaims: (reason: string) =>
    new EntraError(
      401,
      'invalid_client',
      700023,
      `Client assertion audience, issuer or subject is invalid. [Reason - ${reason}]`,
    ),
  assertionExpired: () =>
    new EntraError(401, 'invalid_client', 700024, 'Client assertion is not within its valid time range.'),
  noFederatedMatch: (issuer: string, subject: string, audience: string) =>
    new EntraError(
      400,
      'invalid_request',
      70021,
      `No matching federated identity record found for presented assertion. Assertion Issuer: '${issuer}'. Assertion Subject: '${subject}'. Assertion Audience: '${audience}'.`,
    ),
  federatedAudience: (audience: string) =>
    new EntraError(
      400,
      'invalid_request',
      700212,
      `No matching federated identity record found for presented assertion audience '${audience}'.`,
    ),
  federatedExpired: () =>
    new EntraError(400, 'invalid_client', 700024, 'Client assertion is not within its valid time range.'),
  invalidScope: (scope: string, reason: string) =>
    new EntraError(
      400,
      'invalid_scope',
      1002012,
      `The provided value for scope ${scope} is not valid. ${reason}`,
    ),
  multipleResources: () =>
    new EntraError(
      400,
      'invalid_request',
      28000,
      'Provided value for the input parameter scope is not valid because it contains more than one resource. Scope was requested for more than one resource.',
    ),
  codeRedeemed: () =>
    new EntraError(
      400,
      'invalid_grant',
      54005,
      'OAuth2 Authorization code was already redeemed, please retry with a new valid code or use an existing refresh token.',
    ),
  codeInvalid: () =>
    new EntraError(
      400,
      'invalid_grant',
      70008,
      'The provided authorization code or refresh token has expired due to inactivity. Send a new interactive authorization request for this user and resource.',
    ),
  codeClientMismatch: () =>
    new EntraError(
      400,
      'invalid_grant',
      70000,
      'The provided authorization code was issued to a different client.',
    ),
  pkceMismatch: () =>
    new EntraError(
      400,
      'invalid_grant',
      501481,
      'The Code_Verifier does not match the code_challenge supplied in the authorization request.',
    ),
  pkceMissing: () =>
    new EntraError(
      400,
      'invalid_request',
      50148,
      'The code_verifier does not match the code_challenge supplied in the authorization request for PKCE.',
    ),
  redirectMismatch: (uri: string) =>
    new EntraError(
      400,
      'invalid_grant',
      50011,
      `The redirect URI '${uri}' specified in the request does not match the redirect URIs configured for the application.`,
    ),
  refreshInvalid: () =>
    new EntraError(
      400,
      'invalid_grant',
      70000,
      'Provided grant is invalid or malformed. The refresh token is invalid, expired or revoked.',
      'bad_token',
    ),
  unavailable: (status: number) =>
    status === 429
      ? new EntraError(
          429,
          'temporarily_unavailable',
          50196,
          'The server terminated an operation because it encountered a client request loop. Please retry later.',
        )
      : status >= 500
        ? new EntraError(
            status,
            status === 503 ? 'temporarily_unavailable' : 'server_error',
            90033,
            'A transient error has occurred. Please try again.',
          )
        : status === 401
          ? new EntraError(
              401,
              'invalid_client',
              7000215,
              'Invalid client secret provided (injected failure).',
            )
          : new EntraError(
              status,
              'invalid_request',
              90000,
              'The request could not be processed (injected failure).',
            ),
  internal: () => new EntraError(500, 'server_error', 90100, 'An internal error occurred in dev-entra.'),
};
