// Environment -> frozen config: the seed's variables (API_BASE_URL, HOST, PORT, AZURE_SCOPE and the
// AZURE_* credential variables, AZURE_CERTIFICATE_PATH among them) plus upstream timeouts. As in the
// seed, the credential is the certificate one: a missing certificate path is a startup error, never a
// silent fall-back to DefaultAzureCredential (which could run the proxy as another identity).
import {
  credentialConfigFromEnv,
  credentialEnvSchema,
  type CredentialConfig,
} from '@auth-sidecars/auth-core';
import { proxyEnvShape, proxySettings, type ProxySettings } from '@auth-sidecars/proxy-kit';
import {
  ConfigError,
  hostSchema,
  loadConfig,
  loadConfigParts,
  logLevelSchema,
  portSchema,
  type Env,
} from '@auth-sidecars/service-kit';
import { z } from 'zod';
import { DEFAULT_PORT, DEFAULT_SCOPE, DEFAULT_TIMEOUTS, SEED_CREDENTIAL_ENV } from './constants.js';

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

const OTHER_KINDS = 'workload-identity, managed-identity, client-secret or default';

/**
 * The seed's certificate credential unless AZURE_CREDENTIAL_KIND asks for another kind. Each seed
 * variable that is missing is named with what to put in it.
 */
export function credentialFromEnv(env: Env): CredentialConfig {
  const vars = loadConfig(credentialEnvSchema, env);
  if (vars.AZURE_CREDENTIAL_KIND !== undefined) return credentialConfigFromEnv(vars);
  const issues: string[] = [];
  const missing = (name: string, what: string) =>
    issues.push(
      `${name}: required (${what}) for the certificate credential; to use another credential set AZURE_CREDENTIAL_KIND (${OTHER_KINDS})`,
    );
  if (vars.AZURE_CLIENT_ID === undefined)
    missing(SEED_CREDENTIAL_ENV.clientId, 'the application (client) id of the app registration');
  if (vars.AZURE_TENANT_ID === undefined) missing(SEED_CREDENTIAL_ENV.tenantId, 'the directory (tenant) id');
  if (vars.AZURE_CERTIFICATE_PATH === undefined && vars.AZURE_CLIENT_CERTIFICATE_PATH === undefined)
    missing(
      SEED_CREDENTIAL_ENV.certificatePath,
      'the path of the PEM file with the certificate and its private key',
    );
  if (issues.length > 0) throw new ConfigError(issues);
  return credentialConfigFromEnv({ ...vars, AZURE_CREDENTIAL_KIND: 'certificate' });
}

/** Every problem (app variables and credential variables) is reported in one ConfigError. */
export function loadOpenAiProxyConfig(env: Env): Readonly<OpenAiProxyConfig> {
  const { parsed, credential } = loadConfigParts({
    parsed: () => loadConfig(envSchema, env),
    credential: () => credentialFromEnv(env),
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
