// Environment -> frozen config. Primary names: the standard AZURE_* credential variables,
// PROMETHEUS_QUERY_ENDPOINT, AZURE_SCOPE, HOST, PORT. Microsoft aad-auth-proxy's names are accepted
// as aliases so its users can switch images without touching their manifests.
import {
  credentialConfigFromEnv,
  credentialEnvSchema,
  type CredentialConfig,
} from '@auth-sidecars/auth-core';
import { proxyEnvShape, proxySettings, type ProxySettings } from '@auth-sidecars/proxy-kit';
import {
  hostSchema,
  loadConfig,
  loadConfigParts,
  logLevelSchema,
  portSchema,
  type Env,
} from '@auth-sidecars/service-kit';
import { z } from 'zod';
import {
  AAD_AUTH_PROXY_ALIASES,
  DEFAULT_PORT,
  DEFAULT_SCOPE,
  DEFAULT_TIMEOUTS,
  IDENTITY_TYPES,
} from './constants.js';

export const envSchema = z.object({
  PROMETHEUS_QUERY_ENDPOINT: z.url({ protocol: /^https?$/ }),
  AZURE_SCOPE: z.string().min(1).default(DEFAULT_SCOPE),
  HOST: hostSchema,
  PORT: portSchema(DEFAULT_PORT),
  LOG_LEVEL: logLevelSchema,
  ...proxyEnvShape(DEFAULT_TIMEOUTS),
});

export interface PromSidecarConfig extends ProxySettings {
  queryEndpoint: string;
  scope: string;
  host: string;
  port: number;
  logLevel: string;
  credential: CredentialConfig;
}

const isSet = (v: string | undefined): v is string => v !== undefined && v.trim() !== '';

/**
 * Fills primary variables from aad-auth-proxy aliases (never overriding a primary that is set) and
 * translates their value conventions: TARGET_HOST may lack a scheme, AUDIENCE may be a bare resource,
 * IDENTITY_TYPE names identities the aad-auth-proxy way.
 */
export function applyAliases(env: Env): { env: Env; issues: string[] } {
  const out: Env = { ...env };
  const issues: string[] = [];
  for (const [alias, primary] of Object.entries(AAD_AUTH_PROXY_ALIASES)) {
    const value = env[alias];
    if (!isSet(value) || isSet(env[primary])) continue;
    switch (alias) {
      case 'TARGET_HOST':
        out[primary] = /^[a-z][a-z0-9+.-]*:\/\//i.test(value) ? value : `https://${value}`;
        break;
      case 'AUDIENCE':
        out[primary] = value.endsWith('/.default') ? value : `${value.replace(/\/+$/, '')}/.default`;
        break;
      case 'IDENTITY_TYPE': {
        const kind = IDENTITY_TYPES[value.toLowerCase()];
        if (kind === undefined) {
          issues.push(
            `IDENTITY_TYPE: expected systemAssigned, userAssigned or aadApplication, got "${value}"`,
          );
          break;
        }
        out[primary] = kind;
        break;
      }
      default:
        out[primary] = value;
    }
  }
  // A system-assigned identity has no client id: aad-auth-proxy ignores AAD_CLIENT_ID then.
  if (env.IDENTITY_TYPE?.toLowerCase() === 'systemassigned' && !isSet(env.AZURE_CLIENT_ID))
    delete out.AZURE_CLIENT_ID;
  return { env: out, issues };
}

/** Every problem (app, alias and credential variables) is reported in one ConfigError. */
export function loadPromSidecarConfig(rawEnv: Env): Readonly<PromSidecarConfig> {
  const { env, issues } = applyAliases(rawEnv);
  const { parsed, credential } = loadConfigParts(
    {
      parsed: () => loadConfig(envSchema, env),
      credential: () => credentialConfigFromEnv(loadConfig(credentialEnvSchema, env)),
    },
    issues,
  );
  return Object.freeze({
    queryEndpoint: parsed.PROMETHEUS_QUERY_ENDPOINT,
    scope: parsed.AZURE_SCOPE,
    host: parsed.HOST,
    port: parsed.PORT,
    logLevel: parsed.LOG_LEVEL,
    credential,
    ...proxySettings(parsed),
  });
}
