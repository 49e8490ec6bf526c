// Names of the openai-proxy: service, paths, environment variables and defaults (seed-compatible).
export const SERVICE = 'openai-proxy';

export const HEALTH_PATH = '/health';
export const PROBE_PATHS = ['/health', '/livez', '/readyz', '/metrics'];

/** Seed variable names, kept so existing manifests work unchanged. */
export const ENV = Object.freeze({
  apiBaseUrl: 'API_BASE_URL',
  host: 'HOST',
  port: 'PORT',
  scope: 'AZURE_SCOPE',
  logLevel: 'LOG_LEVEL',
});

/** The seed's credential variables: the certificate credential is expected unless AZURE_CREDENTIAL_KIND says otherwise. */
export const SEED_CREDENTIAL_ENV = Object.freeze({
  clientId: 'AZURE_CLIENT_ID',
  tenantId: 'AZURE_TENANT_ID',
  certificatePath: 'AZURE_CERTIFICATE_PATH',
});

/** OpenAI's Realtime API takes a browser client's key as this subprotocol: never sent upstream. */
export const KEY_SUBPROTOCOL_PREFIX = 'openai-insecure-api-key.';

export const DEFAULT_SCOPE = 'https://cognitiveservices.azure.com/.default';
export const DEFAULT_PORT = 8080;

/** LLM answers can take minutes before the first byte and pause long between streamed tokens. */
export const DEFAULT_TIMEOUTS = Object.freeze({
  connectMs: 5_000,
  firstByteMs: 300_000,
  idleMs: 300_000,
  shutdownMs: 30_000,
});
