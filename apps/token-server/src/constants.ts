// Names of paths, headers, variables and metrics used by token-server, in one place.

export const SERVICE_NAME = 'token-server';

export const PATHS = {
  token: '/token',
  health: '/health',
  appService: ['/msi/token', '/'],
  imds: '/metadata/identity/oauth2/token',
} as const;

export const HEADERS = {
  authorization: 'authorization',
  identityHeader: 'x-identity-header',
  metadata: 'metadata',
  forwardedFor: 'x-forwarded-for',
  contentType: 'content-type',
} as const;

export const QUERY = {
  scope: 'scope',
  resource: 'resource',
  apiVersion: 'api-version',
  /** Identity selectors the managed-identity protocols accept; each names the identity to use. */
  clientId: 'client_id',
  objectId: 'object_id',
  principalId: 'principal_id',
  miResId: 'mi_res_id',
  msiResId: 'msi_res_id',
} as const;

export const SELECTOR_PARAMS = [
  QUERY.clientId,
  QUERY.objectId,
  QUERY.principalId,
  QUERY.miResId,
  QUERY.msiResId,
] as const;

export const APP_SERVICE_API_VERSION = '2019-08-01';
/** The api-version of azd's external authentication protocol (AZD_AUTH_ENDPOINT). */
export const AZD_API_VERSION = '2023-07-12-preview';
/** What the azd auth server serves when `/token` names no scope: Azure Resource Manager. */
export const SEED_DEFAULT_SCOPE = 'https://management.azure.com/.default';
/** IMDS versions the SDKs send (MSAL: 2018-02-01; older and newer SDKs: the others). */
export const IMDS_API_VERSIONS = ['2017-09-01', '2018-02-01', '2019-08-01', '2025-04-07'] as const;

export const DEFAULT_SCOPE_SUFFIX = '/.default';

/** Longest scope or resource accepted; real ones are well under 200 characters. */
export const MAX_SCOPE_LENGTH = 512;

export const ENV = {
  host: 'HOST',
  port: 'PORT',
  tlsCertPath: 'TLS_CERT_PATH',
  tlsKeyPath: 'TLS_KEY_PATH',
  secret: 'AZD_AUTH_SECRET',
  secretFile: 'AZD_AUTH_SECRET_FILE',
  allowedScopes: 'TOKEN_SERVER_ALLOWED_SCOPES',
  clients: 'TOKEN_SERVER_CLIENTS',
  clientsFile: 'TOKEN_SERVER_CLIENTS_FILE',
  maxScopes: 'TOKEN_SERVER_MAX_SCOPES',
  scopeIdleSeconds: 'TOKEN_SERVER_SCOPE_IDLE_SECONDS',
  minValiditySeconds: 'TOKEN_SERVER_MIN_VALIDITY_SECONDS',
  maxQueryBytes: 'TOKEN_SERVER_MAX_QUERY_BYTES',
  warmScopes: 'TOKEN_SERVER_WARM_SCOPES',
  imdsClient: 'TOKEN_SERVER_IMDS_CLIENT',
  identityClientId: 'TOKEN_SERVER_IDENTITY_CLIENT_ID',
  identityObjectId: 'TOKEN_SERVER_IDENTITY_OBJECT_ID',
  identityResourceId: 'TOKEN_SERVER_IDENTITY_RESOURCE_ID',
  policyReloadSeconds: 'TOKEN_SERVER_POLICY_RELOAD_SECONDS',
} as const;

/** Variables that make an Azure SDK in the *token-server's own* container call the token-server itself. */
export const SELF_LOOP_ENV = ['IDENTITY_ENDPOINT', 'IDENTITY_HEADER'] as const;

export const DEFAULT_CLIENT_NAME = 'default';

export const METRICS = {
  issuances: 'token_server_issuances_total',
  denials: 'token_server_denials_total',
  cacheHits: 'token_server_cache_hits_total',
  cacheMisses: 'token_server_cache_misses_total',
  providers: 'token_server_scope_providers',
} as const;

export type Protocol = 'seed' | 'app-service' | 'imds' | 'azd';
