// Names of the openai-proxy: service, paths, environment variables and defaults (seed-compatible).
import type { WarmUpRequest } from '@auth-sidecars/proxy-kit';

export const SERVICE = 'openai-proxy';

export const HEALTH_PATH = '/health';
export const PROBE_PATHS = ['/health', '/livez', '/readyz', '/metrics'];

/** The seed's credential variables: the certificate credential is expected unless AZURE_CREDENTIAL_KIND says otherwise. */
export const SEED_CREDENTIAL_ENV = Object.freeze({
  clientId: 'AZURE_CLIENT_ID',
  tenantId: 'AZURE_TENANT_ID',
  certificatePath: 'AZURE_CERTIFICATE_PATH',
});

/**
 * What the proxy sends through its own request path before it reports ready (proxy-kit warmup.ts;
 * to a loopback stand-in, never upstream): a model list and a chat completion, as clients send them.
 */
export const WARM_UP_REQUESTS: readonly WarmUpRequest[] = Object.freeze<WarmUpRequest[]>([
  { method: 'GET', path: '/openai/models?api-version=2024-10-21', headers: { 'api-key': 'warm-up' } },
  {
    method: 'POST',
    path: '/openai/deployments/warm-up/chat/completions?api-version=2024-10-21',
    headers: { 'content-type': 'application/json', 'api-key': 'warm-up' },
    body: JSON.stringify({ messages: [{ role: 'user', content: 'warm-up' }] }),
  },
]);

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
