// Names of the prom-sidecar: service, paths, environment variables (primary and aad-auth-proxy
// aliases) and defaults.
export const SERVICE = 'prom-sidecar';

export const HEALTH_PATH = '/health';
export const PROBE_PATHS = ['/health', '/livez', '/readyz', '/metrics'];

/**
 * The Prometheus HTTP read API that is forwarded; nothing else is (no admin, write or federate).
 * Label names are restricted to Prometheus' legacy charset (UTF-8 names arrive escaped in it), which
 * also keeps `..` and encoded slashes out of the forwarded path.
 */
export const READ_API_PATHS: readonly RegExp[] = [
  /^\/api\/v1\/query$/,
  /^\/api\/v1\/query_range$/,
  /^\/api\/v1\/series$/,
  /^\/api\/v1\/labels$/,
  /^\/api\/v1\/label\/[A-Za-z_][A-Za-z0-9_]*\/values$/,
  /^\/api\/v1\/metadata$/,
];
export const READ_API_METHODS: ReadonlySet<string> = new Set(['GET', 'POST']);
export const READ_API_DESCRIPTION =
  '/api/v1/query, /api/v1/query_range, /api/v1/series, /api/v1/labels, /api/v1/label/<name>/values, /api/v1/metadata';

export const ENV = Object.freeze({
  endpoint: 'PROMETHEUS_QUERY_ENDPOINT',
  scope: 'AZURE_SCOPE',
  host: 'HOST',
  port: 'PORT',
  logLevel: 'LOG_LEVEL',
});

/** Microsoft aad-auth-proxy variable -> our primary variable (the primary wins when both are set). */
export const AAD_AUTH_PROXY_ALIASES: Readonly<Record<string, string>> = Object.freeze({
  TARGET_HOST: 'PROMETHEUS_QUERY_ENDPOINT',
  AUDIENCE: 'AZURE_SCOPE',
  LISTENING_PORT: 'PORT',
  AAD_CLIENT_ID: 'AZURE_CLIENT_ID',
  AAD_TENANT_ID: 'AZURE_TENANT_ID',
  AAD_CLIENT_CERTIFICATE_PATH: 'AZURE_CLIENT_CERTIFICATE_PATH',
  IDENTITY_TYPE: 'AZURE_CREDENTIAL_KIND',
});

/** aad-auth-proxy's IDENTITY_TYPE values -> auth-core credential kinds. */
export const IDENTITY_TYPES: Readonly<Record<string, string>> = Object.freeze({
  systemassigned: 'managed-identity',
  userassigned: 'managed-identity',
  aadapplication: 'certificate',
});

export const DEFAULT_SCOPE = 'https://prometheus.monitor.azure.com/.default';
export const DEFAULT_PORT = 8080;
export const DEFAULT_TIMEOUTS = Object.freeze({
  connectMs: 5_000,
  firstByteMs: 120_000,
  idleMs: 120_000,
  shutdownMs: 10_000,
});
