// Typed errors of auth-core: what went wrong, phrased so the operator knows what to fix. They carry
// no HTTP status, as @azure/identity's do not: the service that turns them into a response (proxy-kit,
// token-server) maps them (503 `token_unavailable` with Retry-After).

/**
 * Why a token request failed, as far as the caller can act on it:
 * - `unreachable`: the identity provider could not be reached, timed out, or answered 5xx/429. Nothing
 *   to fix here; the provider retries and recovers by itself when the IdP is back.
 * - `refused`: the identity provider answered and said no (bad client id, tenant, secret,
 *   certificate, federated subject), or the local credential configuration is unusable.
 * - `unknown`: anything else.
 */
export type AcquireFailureKind = 'unreachable' | 'refused' | 'unknown';

export interface TokenUnavailableOptions {
  cause?: unknown;
  /** When the caller may usefully ask again (epoch ms); sets `retryAfterSeconds`. */
  retryAt?: number | undefined;
}

/** The `code` of every TokenUnavailableError; services answer it as the error code of their 503. */
export const TOKEN_UNAVAILABLE = 'token_unavailable';

/**
 * No valid token for the scope right now. The message names the scope and the last acquisition
 * error (which never carries a secret); `retryAfterSeconds` is set when the next attempt is known.
 * Subclasses say whether the IdP was unreachable or refused.
 */
export class TokenUnavailableError extends Error {
  readonly code = TOKEN_UNAVAILABLE;
  readonly scope: string;
  readonly kind: AcquireFailureKind = 'unknown';
  /** Whole seconds (at least 1) until asking again may help, counted when the error was made. */
  readonly retryAfterSeconds: number | undefined;

  constructor(scope: string, reason: string, options?: TokenUnavailableOptions) {
    super(
      `no valid access token for scope ${scope}: ${reason}`,
      options?.cause === undefined ? undefined : { cause: options.cause },
    );
    this.name = new.target.name;
    this.scope = scope;
    this.retryAfterSeconds =
      options?.retryAt === undefined
        ? undefined
        : Math.max(1, Math.ceil((options.retryAt - Date.now()) / 1000));
  }
}

/** The identity provider is unreachable, timing out or failing (5xx/429): an outage, not a misconfiguration. */
export class IdentityProviderUnreachableError extends TokenUnavailableError {
  override readonly kind = 'unreachable';
}

/** The identity provider refused the request, or the credential cannot be used: fix the configuration. */
export class IdentityProviderRefusedError extends TokenUnavailableError {
  override readonly kind = 'refused';
}

/** The TokenUnavailableError subclass for a failure of `kind`. */
export function tokenUnavailable(
  kind: AcquireFailureKind,
  scope: string,
  reason: string,
  options?: TokenUnavailableOptions,
): TokenUnavailableError {
  if (kind === 'unreachable') return new IdentityProviderUnreachableError(scope, reason, options);
  if (kind === 'refused') return new IdentityProviderRefusedError(scope, reason, options);
  return new TokenUnavailableError(scope, reason, options);
}

/** The credential did not answer within `acquireTimeoutMs`. */
export class TokenAcquireTimeoutError extends Error {
  constructor(timeoutMs: number) {
    super(`the token request did not complete within ${timeoutMs} ms`);
    this.name = 'TokenAcquireTimeoutError';
  }
}

const MAX_REASON_LENGTH = 400;

/** OAuth error codes (the prefix of MSAL's server error messages) that mean "try again later". */
const TRANSIENT_OAUTH_ERRORS = /^(server_error|temporarily_unavailable)\b/;
/** Network failures as Node, undici and the SDKs' HTTP pipeline report them. */
const NETWORK_ERROR_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'REQUEST_SEND_ERROR',
]);
const NETWORK_MESSAGE =
  /\b(ECONNREFUSED|ECONNRESET|ETIMEDOUT|ENOTFOUND|EAI_AGAIN|EHOSTUNREACH|ENETUNREACH|socket hang up|fetch failed|network error|network_error)\b/i;

/**
 * Sorts an acquisition error (from @azure/identity, MSAL, the network or the provider's own
 * timeout) into unreachable / refused / unknown. MSAL reports both an unreachable authority and a
 * 5xx metadata answer as `endpoints_resolution_error`, and token endpoint answers as
 * `<oauth error>: ... AADSTS<n>`; the HTTP status is not kept, so the OAuth error code decides.
 */
export function classifyAcquireError(error: unknown): AcquireFailureKind {
  if (!(error instanceof Error)) return 'unknown';
  if (error instanceof TokenAcquireTimeoutError) return 'unreachable';
  const { name, message } = error;
  const status = (error as { statusCode?: unknown }).statusCode;
  const code = (error as NodeJS.ErrnoException).code;
  if (typeof status === 'number' && (status >= 500 || status === 429)) return 'unreachable';
  if (message.includes('endpoints_resolution_error')) return 'unreachable';
  if (TRANSIENT_OAUTH_ERRORS.test(message.trim())) return 'unreachable';
  if ((typeof code === 'string' && NETWORK_ERROR_CODES.has(code)) || NETWORK_MESSAGE.test(message))
    return 'unreachable';
  if (/AADSTS\d+/.test(message)) return 'refused';
  if (typeof status === 'number' && status >= 400) return 'refused';
  if (name === 'AuthenticationError' || name === 'CredentialUnavailableError') return 'refused';
  return 'unknown';
}

export interface DescribeOptions {
  /** A token was had from this IdP before: an unreachable IdP is an outage, not a wrong host. */
  succeededBefore?: boolean;
}

/**
 * A one-paragraph reason for logs, status() and error messages, with a hint on what to check.
 * @azure/identity and MSAL messages carry AADSTS codes, thumbprints and trace ids, never secrets.
 */
export function describeAcquireError(error: unknown, options: DescribeOptions = {}): string {
  const name = error instanceof Error ? error.name : 'Error';
  const message = (error instanceof Error ? error.message : String(error)).replace(/\s+/g, ' ').trim();
  const kind = classifyAcquireError(error);
  const aadsts =
    /Description: (AADSTS\d+: .*?)(?: Trace ID:| Correlation ID:| Timestamp:|$)/.exec(message)?.[1] ??
    /(AADSTS\d+[^.]*\.)/.exec(message)?.[1];
  if (kind === 'unreachable') {
    const detail = aadsts
      ? `${message.split(':')[0]}: ${aadsts}`
      : message.includes('endpoints_resolution_error')
        ? 'its OpenID configuration could not be loaded'
        : `${name === 'Error' ? '' : `${name}: `}${message}`;
    const hint = options.succeededBefore
      ? 'retrying until it is back'
      : 'retrying; if it never worked, check AZURE_AUTHORITY_HOST, AZURE_TENANT_ID, network and TLS trust';
    return `the identity provider is unreachable or failing (${shorten(detail)}); ${hint}`;
  }
  if (aadsts) {
    return `the identity provider refused the request (check client id, tenant, and that the certificate, secret or federated subject is registered on the app): ${shorten(aadsts)}`;
  }
  switch (name) {
    case 'CredentialUnavailableError':
      return `credential unavailable (check the AZURE_* configuration and mounted files): ${shorten(message)}`;
    case 'AuthenticationError':
      return `the identity provider refused the request: ${shorten(message)}`;
    default:
      return `${name}: ${shorten(message)}`;
  }
}

function shorten(message: string): string {
  return message.length > MAX_REASON_LENGTH ? `${message.slice(0, MAX_REASON_LENGTH)}...` : message;
}
