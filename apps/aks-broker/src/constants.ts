// Names used across the broker: paths, cookies, headers, scopes, metric names, store prefixes.

/** The AKS AAD server application (same id in every Azure cloud). */
export const AKS_SERVER_APP_ID = '6dae42f8-4368-4678-94ff-3960e28e3630';
export const DEFAULT_AUTHORITY_HOST = 'https://login.microsoftonline.com';
export const SIGN_IN_SCOPES = ['openid', 'profile', 'offline_access'] as const;
export const DEFAULT_KUBE_CA_FILE = '/var/run/secrets/kubernetes.io/serviceaccount/ca.crt';

export const PATHS = {
  login: '/login',
  callback: '/callback',
  logout: '/logout',
  me: '/api/me',
  config: '/api/config',
  /** The signed-in user's kubectl credentials: list, create, revoke (the page's "Use kubectl" panel). */
  credentials: '/api/credentials',
  kube: '/k8s',
  static: '/static',
  home: '/',
} as const;

/** A sign-in (state, nonce, PKCE verifier, returnTo) must finish within this time, in the browser that began it. */
export const LOGIN_STATE_TTL_MS = 10 * 60_000;
/** Sign-ins one browser may have pending at once (a cookie each, up to ~1.5 kB); the oldest gives way. */
export const MAX_PENDING_LOGINS = 3;

export const STORE_PREFIX = {
  session: 'session:',
  /** A redeemed sign-in state, kept until it would have expired anyway: single use across replicas. */
  redeemedState: 'redeemed-state:',
  tokenCache: 'msal:',
  rateLimit: 'ratelimit',
  /** A kubectl credential, keyed by the SHA-256 of its secret (the secret itself is never stored). */
  credential: 'cli-credential:',
  /** One of a session's credential slots (`<session ref>:<n>`): claimed with SET NX, so listing needs no index. */
  credentialSlot: 'cli-credential-slot:',
} as const;

/**
 * Start of every kubectl credential the broker issues: a bearer without it is not ours (answered
 * without a store lookup), and secret scanners can recognise a leaked one.
 */
export const CLI_CREDENTIAL_PREFIX = 'aksb_';

/** How often a kubectl credential's open streams (watch, logs -f, exec) check it is still live. */
export const CREDENTIAL_RECHECK_MS = 1_000;

export const HEADERS = {
  requestId: 'x-request-id',
  /** Required on unsafe methods from the browser: a custom header forces a CORS preflight, which we never grant. */
  csrf: 'x-aks-broker',
  authorization: 'authorization',
} as const;

/**
 * Headers of a WebSocket handshake passed to the API server beside KUBE_REQUEST_HEADERS (exec,
 * attach, port-forward). The frames that follow pass as bytes, so the subprotocol and extensions are
 * negotiated end to end.
 */
export const WEBSOCKET_REQUEST_HEADERS = [
  'sec-websocket-key',
  'sec-websocket-version',
  'sec-websocket-protocol',
  'sec-websocket-extensions',
] as const;

/** The API server's 101 answer headers passed back to the client; nothing else of its handshake. */
export const WEBSOCKET_RESPONSE_HEADERS = [
  'sec-websocket-accept',
  'sec-websocket-protocol',
  'sec-websocket-extensions',
] as const;

/**
 * The only request headers passed on to the API server (besides the user's own bearer token, set by
 * the broker). Anything else could speak for someone: X-Real-Ip and Forwarded end up in the API
 * server's audit log as source addresses, X-Remote-* are front-proxy identities, Impersonate-*
 * borrows rights, cookies and Authorization are the browser's own.
 */
export const KUBE_REQUEST_HEADERS = [
  'accept',
  'accept-encoding',
  'content-type',
  'content-length',
  'user-agent',
  'if-match',
  'if-none-match',
  'kubectl-command',
  'kubectl-session',
] as const;

/**
 * The only upstream response headers passed to the browser. Anything else (Set-Cookie, CORS, CSP,
 * X-Frame-Options, Location, Refresh, Link ...) could let what runs behind the API server (a pod
 * reached through `proxy`, an aggregated API) speak for the broker's origin.
 */
export const KUBE_RESPONSE_HEADERS = [
  'content-type',
  'content-length',
  'content-encoding',
  'etag',
  'last-modified',
  'retry-after',
  'warning',
  'audit-id',
  'x-kubernetes-pf-flowschema-uid',
  'x-kubernetes-pf-prioritylevel-uid',
] as const;

/** Media types the Kubernetes API itself answers with; anything else is sent as a download. */
export const KUBE_API_MEDIA_TYPES = new Set([
  'application/json',
  'application/yaml',
  'application/vnd.kubernetes.protobuf',
]);

/**
 * Subresources that reach into a workload (its HTTP server, a shell, a terminal, a port): refused
 * unless KUBE_ALLOW_SUBRESOURCES names them.
 */
export const RISKY_SUBRESOURCES = ['proxy', 'exec', 'attach', 'portforward'] as const;
export type RiskySubresource = (typeof RISKY_SUBRESOURCES)[number];

/** The broker's own headers on every answer; set last on proxied answers so no upstream can replace them. */
export const SECURITY_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  'content-security-policy':
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  // Never a referrer to another origin (the callback URL holds a code); same-origin keeps the real
  // Origin on our own form posts (under no-referrer, browsers send `Origin: null`).
  'referrer-policy': 'same-origin',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
});

/** Kubernetes answers are data, never a document: no script, no plugin, no form, no frame, even if opened. */
export const KUBE_RESPONSE_CSP =
  "sandbox; default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

export const METRICS = {
  signIns: 'aks_broker_sign_ins_total',
  tokenAcquisitions: 'aks_broker_token_acquisitions_total',
  kubeCalls: 'aks_broker_kube_requests_total',
  rateLimited: 'aks_broker_rate_limited_total',
  openStreams: 'aks_broker_open_streams',
  concurrencyRefused: 'aks_broker_concurrency_refused_total',
  credentials: 'aks_broker_cli_credentials_total',
} as const;

export const ENV = {
  host: 'HOST',
  port: 'PORT',
  logLevel: 'LOG_LEVEL',
  clientId: 'AZURE_CLIENT_ID',
  tenantId: 'AZURE_TENANT_ID',
  federatedTokenFile: 'AZURE_FEDERATED_TOKEN_FILE',
  authorityHost: 'AZURE_AUTHORITY_HOST',
} as const;
