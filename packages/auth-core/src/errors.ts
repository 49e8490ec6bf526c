// Typed errors of auth-core: what went wrong, phrased so the operator knows what to fix.
import { ServiceUnavailableError } from '@auth-sidecars/service-kit';

/**
 * No valid token for the scope right now (503, code `token_unavailable`). The message names the
 * scope and the last acquisition error (which never carries a secret); `retry-after` is set when
 * the next attempt is scheduled.
 */
export class TokenUnavailableError extends ServiceUnavailableError {
  readonly scope: string;

  constructor(scope: string, reason: string, options?: { cause?: unknown; retryAt?: number }) {
    super(`no valid access token for scope ${scope}: ${reason}`, 'token_unavailable', {
      cause: options?.cause,
    });
    this.scope = scope;
    if (options?.retryAt !== undefined) {
      this.headers['retry-after'] = String(Math.max(1, Math.ceil((options.retryAt - Date.now()) / 1000)));
    }
  }
}

/** The credential did not answer within `acquireTimeoutMs`. */
export class TokenAcquireTimeoutError extends Error {
  constructor(timeoutMs: number) {
    super(
      `the token request did not complete within ${timeoutMs} ms; check that the authority host is reachable`,
    );
    this.name = 'TokenAcquireTimeoutError';
  }
}

const MAX_REASON_LENGTH = 400;

/**
 * A one-paragraph reason for logs, status() and error messages, with a hint on what to check.
 * @azure/identity and MSAL messages carry AADSTS codes, thumbprints and trace ids, never secrets.
 */
export function describeAcquireError(error: unknown): string {
  const name = error instanceof Error ? error.name : 'Error';
  const message = (error instanceof Error ? error.message : String(error)).replace(/\s+/g, ' ').trim();
  const aadsts =
    /Description: (AADSTS\d+: .*?)(?: Trace ID:| Correlation ID:| Timestamp:|$)/.exec(message)?.[1] ??
    /(AADSTS\d+[^.]*\.)/.exec(message)?.[1];
  if (aadsts) {
    return `the identity provider refused the request (check client id, tenant, and that the certificate, secret or federated subject is registered on the app): ${shorten(aadsts)}`;
  }
  if (message.includes('endpoints_resolution_error')) {
    return `cannot load the OpenID configuration of the authority (check AZURE_AUTHORITY_HOST, AZURE_TENANT_ID, network and TLS trust): ${shorten(message)}`;
  }
  switch (name) {
    case 'CredentialUnavailableError':
      return `credential unavailable (check the AZURE_* configuration and mounted files): ${shorten(message)}`;
    case 'AuthenticationError':
      return `the identity provider refused the request: ${shorten(message)}`;
    case 'TokenAcquireTimeoutError':
      return message;
    default:
      return `${name}: ${shorten(message)}`;
  }
}

function shorten(message: string): string {
  return message.length > MAX_REASON_LENGTH ? `${message.slice(0, MAX_REASON_LENGTH)}...` : message;
}
