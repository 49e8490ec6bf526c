// Environment -> frozen config: the seed's variables (API_BASE_URL, HOST, PORT, AZURE_SCOPE and the
// AZURE_* credential variables, AZURE_CERTIFICATE_PATH among them) plus upstream timeouts.
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
import { DEFAULT_PORT, DEFAULT_SCOPE, DEFAULT_TIMEOUTS } from './constants.js';

export const envSchema = z.object({
  API_BASE_URL: z.url({ protocol: /^https?$/ }),
  HOST: hostSchema,
  PORT: portSchema(DEFAULT_PORT),
  AZURE_SCOPE: z.string().min(1).default(DEFAULT_SCOPE),
  LOG_LEVEL: logLevelSchema,
  ...proxyEnvShape(DEFAULT_TIMEOUTS),
});

export interface OpenAiProxyConfig extends ProxySettings {
  apiBaseUrl: string;
  host: string;
  port: number;
  scope: string;
  logLevel: string;
  credential: CredentialConfig;
}

/** Every problem (app variables and credential variables) is reported in one ConfigError. */
export function loadOpenAiProxyConfig(env: Env): Readonly<OpenAiProxyConfig> {
  const { parsed, credential } = loadConfigParts({
    parsed: () => loadConfig(envSchema, env),
    credential: () => credentialConfigFromEnv(loadConfig(credentialEnvSchema, env)),
  });
  return Object.freeze({
    apiBaseUrl: parsed.API_BASE_URL,
    host: parsed.HOST,
    port: parsed.PORT,
    scope: parsed.AZURE_SCOPE,
    logLevel: parsed.LOG_LEVEL,
    credential,
    ...proxySettings(parsed),
  });
}
