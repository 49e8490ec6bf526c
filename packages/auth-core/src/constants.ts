// Names and defaults of auth-core in one place: environment variables, metric names, timings.

/** Variables read by `credentialEnvSchema`, grouped by the credential that uses them (Azure SDK habit). */
export const CredentialKindEnvVars = ['AZURE_CREDENTIAL_KIND'] as const;
export const ClientSecretEnvVars = ['AZURE_TENANT_ID', 'AZURE_CLIENT_ID', 'AZURE_CLIENT_SECRET'] as const;
/** `AZURE_CERTIFICATE_PATH` is the openai-proxy seed's name for `AZURE_CLIENT_CERTIFICATE_PATH`. */
export const ClientCertificateEnvVars = [
  'AZURE_TENANT_ID',
  'AZURE_CLIENT_ID',
  'AZURE_CLIENT_CERTIFICATE_PATH',
  'AZURE_CERTIFICATE_PATH',
  'AZURE_CLIENT_KEY_PATH',
  'AZURE_CLIENT_CERTIFICATE_PASSWORD',
  'AZURE_CLIENT_SEND_CERTIFICATE_CHAIN',
] as const;
export const WorkloadIdentityEnvVars = [
  'AZURE_TENANT_ID',
  'AZURE_CLIENT_ID',
  'AZURE_FEDERATED_TOKEN_FILE',
] as const;
export const ManagedIdentityEnvVars = ['AZURE_CLIENT_ID'] as const;
export const AuthorityEnvVars = ['AZURE_AUTHORITY_HOST', 'AZURE_DISABLE_INSTANCE_DISCOVERY'] as const;

export const CREDENTIAL_KINDS = [
  'default',
  'certificate',
  'workload-identity',
  'managed-identity',
  'client-secret',
] as const;

/**
 * Authority hosts of Microsoft's clouds. Instance discovery only works against these; any other
 * host (dev-entra, ADFS, a test double) gets `disableInstanceDiscovery`.
 */
export const MICROSOFT_AUTHORITY_HOSTS = [
  'login.microsoftonline.com',
  'login.microsoft.com',
  'login.windows.net',
  'sts.windows.net',
  'login.microsoftonline.us',
  'login.usgovcloudapi.net',
  'login.chinacloudapi.cn',
  'login.partner.microsoftonline.cn',
  'login.microsoftonline.de',
] as const;

export const METRIC_TOKEN_EXPIRY = 'auth_token_expiry_timestamp_seconds';
export const METRIC_TOKEN_REFRESH = 'auth_token_refresh_total';
export const METRIC_TOKEN_ACQUIRE_DURATION = 'auth_token_acquire_duration_seconds';

export const TOKEN_PROVIDER_DEFAULTS = {
  refreshFraction: 0.5,
  maxRefreshAheadMs: 5 * 60_000,
  retry: { initialMs: 1_000, maxMs: 60_000 },
  acquireTimeoutMs: 30_000,
  /** A token this close to its expiry counts as expired, so it does not run out in flight. */
  expiryMarginMs: 1_000,
  startAttempts: 3,
  /** invalidate() asks the IdP at most once per this interval (a 401 storm stays one request). */
  minForcedRefreshIntervalMs: 5_000,
  /** Without a valid token, demand starts an attempt when none ran for this long. */
  demandRetryIntervalMs: 5_000,
} as const;

/**
 * For tokens too short to be refreshed `maxRefreshAheadMs` before expiry while still being used for
 * at least this fraction of their life, `refreshFraction` alone decides (see refreshPolicy.ts).
 */
export const MIN_USED_FRACTION = 0.25;

/** The expiry safety margin never exceeds this fraction of a token's lifetime (short test tokens). */
export const MAX_MARGIN_FRACTION = 0.1;

/** setTimeout's ceiling (about 24.8 days); longer delays are clamped. */
export const MAX_TIMER_DELAY_MS = 2 ** 31 - 1;
