// token-server configuration: environment -> validated, frozen object. The server's own credential
// comes from the standard AZURE_* variables (auth-core); clients and their secrets from the seed's
// AZD_AUTH_SECRET(_FILE) and/or a clients JSON document.
import {
  credentialConfigFromEnv,
  credentialEnvSchema,
  type CredentialConfig,
} from '@auth-sidecars/auth-core';
import {
  ConfigError,
  csvList,
  hostSchema,
  loadConfig,
  loadConfigParts,
  logLevelSchema,
  portSchema,
  renamedVariables,
  type Env,
} from '@auth-sidecars/service-kit';
import { z } from 'zod';
import { ENV, RENAMED_ENV, SELF_LOOP_ENV } from './constants.js';
import { scopeProblem } from './scope.js';

const optional = z.string().trim().min(1).optional();

/** Comma- or whitespace-separated list. */
const list = csvList({ whitespace: true });

/** The environment, keyed by the variable names (ENV); the credential's AZURE_* are auth-core's. */
export const configSchema = z.object({
  LOG_LEVEL: logLevelSchema,
  [ENV.host]: hostSchema.default('127.0.0.1'),
  [ENV.port]: portSchema(8080),
  [ENV.tlsCertFile]: optional,
  [ENV.tlsKeyFile]: optional,
  [ENV.secret]: optional,
  [ENV.secretFile]: optional,
  [ENV.allowedScopes]: list.default(['*']),
  [ENV.clients]: optional,
  [ENV.clientsFile]: optional,
  [ENV.maxScopes]: z.coerce.number().int().min(1).max(10_000).default(100),
  [ENV.scopeIdleSeconds]: z.coerce
    .number()
    .int()
    .min(0)
    .max(30 * 86_400)
    .default(86_400),
  [ENV.minValiditySeconds]: z.coerce.number().int().min(0).max(3600).default(300),
  [ENV.maxQueryBytes]: z.coerce.number().int().min(256).max(16_384).default(2048),
  [ENV.warmScopes]: list.default([]),
  [ENV.imdsClient]: optional,
  [ENV.identityClientId]: optional,
  [ENV.identityObjectId]: optional,
  [ENV.identityResourceId]: optional,
  [ENV.policyReloadSeconds]: z.coerce.number().int().min(0).max(86_400).default(30),
  // Not ours to use: read only to warn that the server's own credential may call itself.
  IDENTITY_ENDPOINT: optional,
  IDENTITY_HEADER: optional,
});

export interface TokenServerConfig {
  host: string;
  port: number;
  logLevel: z.output<typeof configSchema>['LOG_LEVEL'];
  tlsCertFile: string | undefined;
  tlsKeyFile: string | undefined;
  secret: string | undefined;
  secretFile: string | undefined;
  allowedScopes: readonly string[];
  /** TOKEN_SERVER_CLIENTS: the clients JSON document itself. */
  clientsJson: string | undefined;
  clientsFile: string | undefined;
  maxScopes: number;
  scopeIdleSeconds: number;
  minValiditySeconds: number;
  maxQueryBytes: number;
  warmScopes: readonly string[];
  imdsClient: string | undefined;
  identityClientId: string | undefined;
  identityObjectId: string | undefined;
  identityResourceId: string | undefined;
  policyReloadSeconds: number;
  /** The server's own credential (the standard AZURE_* variables). */
  credential: CredentialConfig;
  /** Variables set in our own environment that may make our credential call this server (warned). */
  selfLoopVariables: readonly string[];
  /** Logged at startup (deprecated variable names). */
  warnings: readonly string[];
}

/**
 * Rules across variables, checked on the raw environment so they are reported together with the
 * schema's own problems (a zod refinement would only run once every field parsed).
 */
function crossFieldIssues(env: Env): string[] {
  const set = (name: string) => (env[name] ?? '').trim() !== '';
  const issues: string[] = [];
  if (set(ENV.tlsCertFile) !== set(ENV.tlsKeyFile))
    issues.push(`${ENV.tlsCertFile} and ${ENV.tlsKeyFile} go together`);
  if (![ENV.secret, ENV.secretFile, ENV.clients, ENV.clientsFile].some(set)) {
    issues.push(
      `no client configured: set ${ENV.secret}, ${ENV.secretFile}, ${ENV.clients} or ${ENV.clientsFile}`,
    );
  }
  for (const scope of (env[ENV.warmScopes] ?? '').split(/[\s,]+/).filter((s) => s !== '')) {
    const problem = scopeProblem(scope, 'scope');
    if (problem) issues.push(`${ENV.warmScopes}: ${scope}: ${problem}`);
  }
  return issues;
}

/** Every problem (schema, cross-variable rules, credential variables) is reported in one ConfigError. */
export function loadTokenServerConfig(rawEnv: Env): Readonly<TokenServerConfig> {
  const { env, warnings } = renamedVariables(rawEnv, RENAMED_ENV);
  const { parsed, credential } = loadConfigParts({
    parsed: () => loadConfig(configSchema, env),
    crossField: () => {
      const issues = crossFieldIssues(env);
      if (issues.length > 0) throw new ConfigError(issues);
    },
    credential: () => credentialConfigFromEnv(loadConfig(credentialEnvSchema, env)),
  });
  return Object.freeze({
    host: parsed[ENV.host],
    port: parsed[ENV.port],
    logLevel: parsed.LOG_LEVEL,
    tlsCertFile: parsed[ENV.tlsCertFile],
    tlsKeyFile: parsed[ENV.tlsKeyFile],
    secret: parsed[ENV.secret],
    secretFile: parsed[ENV.secretFile],
    allowedScopes: parsed[ENV.allowedScopes],
    clientsJson: parsed[ENV.clients],
    clientsFile: parsed[ENV.clientsFile],
    maxScopes: parsed[ENV.maxScopes],
    scopeIdleSeconds: parsed[ENV.scopeIdleSeconds],
    minValiditySeconds: parsed[ENV.minValiditySeconds],
    maxQueryBytes: parsed[ENV.maxQueryBytes],
    warmScopes: parsed[ENV.warmScopes],
    imdsClient: parsed[ENV.imdsClient],
    identityClientId: parsed[ENV.identityClientId],
    identityObjectId: parsed[ENV.identityObjectId],
    identityResourceId: parsed[ENV.identityResourceId],
    policyReloadSeconds: parsed[ENV.policyReloadSeconds],
    credential: Object.freeze(credential),
    selfLoopVariables: Object.freeze(SELF_LOOP_ENV.filter((name) => parsed[name] !== undefined)),
    warnings: Object.freeze(warnings),
  });
}
