// The broker's configuration: environment -> zod schema -> frozen typed object, validated at once.
// Variable names follow the workload-identity webhook (AZURE_*) and the in-cluster conventions.
import { z } from 'zod';
import { ConfigError, loadConfig, type Env } from '@auth-sidecars/service-kit';
import {
  AKS_SERVER_APP_ID,
  DEFAULT_AUTHORITY_HOST,
  DEFAULT_KUBE_CA_FILE,
  RISKY_SUBRESOURCES,
} from './constants.js';

const flag = (defaultValue: boolean) =>
  z
    .enum(['true', 'false', '1', '0', 'yes', 'no'])
    .default(defaultValue ? 'true' : 'false')
    .transform((v) => v === 'true' || v === '1' || v === 'yes');

const positiveInt = (defaultValue: number) => z.coerce.number().int().positive().default(defaultValue);
/** Seconds, fractions allowed (`0.5`). */
const seconds = (defaultValue: number) => z.coerce.number().positive().default(defaultValue);

const csv = (defaultValue: string) =>
  z
    .string()
    .default(defaultValue)
    .transform((v) =>
      v
        .split(',')
        .map((s) => s.trim())
        .filter((s) => s !== ''),
    );

/**
 * 32 bytes, base64 or hex; AES-256-GCM key for the MSAL cache partitions at rest. Kept as base64 text
 * in the (frozen) config: typed arrays cannot be frozen.
 */
const aesKey = z.string().transform((value, ctx) => {
  const trimmed = value.trim();
  const key = /^[0-9a-fA-F]{64}$/.test(trimmed)
    ? Buffer.from(trimmed, 'hex')
    : Buffer.from(trimmed, 'base64');
  if (key.length !== 32) {
    ctx.addIssue({
      code: 'custom',
      message: 'must be 32 bytes, base64 or hex encoded (openssl rand -base64 32)',
    });
    return z.NEVER;
  }
  return key.toString('base64');
});

export const configSchema = z
  .object({
    HOST: z.string().default('0.0.0.0'),
    PORT: z.coerce.number().int().min(0).max(65535).default(8080),
    LOG_LEVEL: z.enum(['error', 'warn', 'info', 'http', 'verbose', 'debug', 'silly']).default('info'),
    TLS_CERT_FILE: z.string().optional(),
    TLS_KEY_FILE: z.string().optional(),

    AZURE_CLIENT_ID: z.string().min(1),
    AZURE_TENANT_ID: z.string().min(1),
    AZURE_FEDERATED_TOKEN_FILE: z.string().min(1),
    AZURE_AUTHORITY_HOST: z.url().default(DEFAULT_AUTHORITY_HOST),
    AKS_SERVER_APP_ID: z.string().default(AKS_SERVER_APP_ID),
    AKS_SCOPE: z.string().optional(),
    ENTRA_TIMEOUT_SECONDS: seconds(10),

    PUBLIC_URL: z.url(),
    SESSION_SECRET: csv('').pipe(
      z.array(z.string().min(32, 'each secret needs at least 32 characters')).min(1, 'required but not set'),
    ),
    SESSION_TTL_SECONDS: positiveInt(8 * 3600),
    COOKIE_SECURE: flag(true),
    COOKIE_NAME: z
      .string()
      .regex(/^[A-Za-z0-9_-]+$/)
      .optional(),
    CACHE_ENCRYPTION_KEY: aesKey.optional(),

    REDIS_URL: z.url().optional(),
    REDIS_KEY_PREFIX: z.string().default('aks-broker:'),
    REDIS_TIMEOUT_SECONDS: seconds(2),

    KUBERNETES_SERVICE_HOST: z.string().optional(),
    KUBERNETES_SERVICE_PORT: z.coerce.number().int().positive().default(443),
    KUBE_API_URL: z.url().optional(),
    KUBE_CA_FILE: z.string().default(DEFAULT_KUBE_CA_FILE),
    KUBE_REQUEST_TIMEOUT_SECONDS: positiveInt(30),
    KUBE_MAX_STREAMS_PER_USER: positiveInt(20),
    KUBE_MAX_CALLS_PER_USER: positiveInt(50),
    KUBE_ALLOW_SUBRESOURCES: csv('').pipe(
      z.array(
        z.enum(RISKY_SUBRESOURCES, {
          error: `each entry must be one of ${RISKY_SUBRESOURCES.join(', ')}`,
        }),
      ),
    ),

    RATE_LIMIT_REQUESTS: positiveInt(120),
    RATE_LIMIT_WINDOW_SECONDS: positiveInt(60),

    UI_NAMESPACES: csv('default'),

    CLI_CREDENTIAL_TTL_SECONDS: positiveInt(3600),
    CLI_CREDENTIALS_PER_SESSION: z.coerce.number().int().min(1).max(20).default(5),
    PUBLIC_CA_FILE: z.string().optional(),
  })
  .transform((env) => {
    const publicUrl = new URL(env.PUBLIC_URL);
    const base = publicUrl.origin + publicUrl.pathname.replace(/\/+$/, '');
    const kubeHost = env.KUBERNETES_SERVICE_HOST?.includes(':')
      ? `[${env.KUBERNETES_SERVICE_HOST}]`
      : env.KUBERNETES_SERVICE_HOST;
    return {
      host: env.HOST,
      port: env.PORT,
      logLevel: env.LOG_LEVEL,
      tls:
        env.TLS_CERT_FILE && env.TLS_KEY_FILE
          ? { certFile: env.TLS_CERT_FILE, keyFile: env.TLS_KEY_FILE }
          : undefined,
      entra: {
        clientId: env.AZURE_CLIENT_ID,
        tenantId: env.AZURE_TENANT_ID,
        federatedTokenFile: env.AZURE_FEDERATED_TOKEN_FILE,
        authorityHost: env.AZURE_AUTHORITY_HOST.replace(/\/+$/, ''),
        aksScope: env.AKS_SCOPE ?? `${env.AKS_SERVER_APP_ID}/.default`,
        timeoutMs: env.ENTRA_TIMEOUT_SECONDS * 1000,
      },
      publicUrl: base,
      redirectUri: `${base}/callback`,
      session: {
        secrets: env.SESSION_SECRET,
        ttlMs: env.SESSION_TTL_SECONDS * 1000,
        cookieSecure: env.COOKIE_SECURE,
        // __Host- binds the cookie to this exact origin (Secure, Path=/, no Domain) where the browser allows it.
        cookieName: env.COOKIE_NAME ?? (env.COOKIE_SECURE ? '__Host-aks-broker' : 'aks-broker'),
      },
      cacheEncryptionKey: env.CACHE_ENCRYPTION_KEY,
      redis: env.REDIS_URL
        ? { url: env.REDIS_URL, keyPrefix: env.REDIS_KEY_PREFIX, timeoutMs: env.REDIS_TIMEOUT_SECONDS * 1000 }
        : undefined,
      kube: {
        apiUrl: (env.KUBE_API_URL ?? `https://${kubeHost}:${env.KUBERNETES_SERVICE_PORT}`).replace(
          /\/+$/,
          '',
        ),
        caFile: env.KUBE_CA_FILE,
        requestTimeoutMs: env.KUBE_REQUEST_TIMEOUT_SECONDS * 1000,
        allowedSubresources: env.KUBE_ALLOW_SUBRESOURCES,
        maxStreamsPerUser: env.KUBE_MAX_STREAMS_PER_USER,
        maxCallsPerUser: env.KUBE_MAX_CALLS_PER_USER,
      },
      rateLimit: { points: env.RATE_LIMIT_REQUESTS, durationSeconds: env.RATE_LIMIT_WINDOW_SECONDS },
      ui: { namespaces: env.UI_NAMESPACES },
      cli: {
        // Never longer than the sign-in it comes from: capped by the session's own end at creation too.
        maxTtlMs: Math.min(env.CLI_CREDENTIAL_TTL_SECONDS, env.SESSION_TTL_SECONDS) * 1000,
        perSession: env.CLI_CREDENTIALS_PER_SESSION,
        /** Put into downloaded kubeconfigs (certificate-authority-data) so kubectl trusts PUBLIC_URL. */
        publicCaFile: env.PUBLIC_CA_FILE,
      },
    };
  });

export type BrokerConfig = Readonly<z.output<typeof configSchema>>;

/**
 * Rules across variables, checked on the raw environment so they are reported together with the
 * schema's own problems (a zod refinement would only run once everything else parsed).
 */
function crossFieldIssues(env: Env): string[] {
  const set = (name: string) => (env[name] ?? '').trim() !== '';
  const issues: string[] = [];
  if (set('REDIS_URL') && !set('CACHE_ENCRYPTION_KEY'))
    issues.push('CACHE_ENCRYPTION_KEY: required when REDIS_URL is set (cache entries are encrypted at rest)');
  if (!set('KUBE_API_URL') && !set('KUBERNETES_SERVICE_HOST'))
    issues.push('KUBE_API_URL: set KUBE_API_URL, or run in a cluster (KUBERNETES_SERVICE_HOST)');
  if (set('TLS_CERT_FILE') !== set('TLS_KEY_FILE'))
    issues.push('TLS_CERT_FILE: TLS_CERT_FILE and TLS_KEY_FILE go together');
  return issues;
}

export function loadBrokerConfig(env: Env): BrokerConfig {
  const cross = crossFieldIssues(env);
  let config: BrokerConfig;
  try {
    config = loadConfig(configSchema, env);
  } catch (error) {
    if (error instanceof ConfigError && cross.length > 0) throw new ConfigError([...error.issues, ...cross]);
    throw error;
  }
  if (cross.length > 0) throw new ConfigError(cross);
  return config;
}
