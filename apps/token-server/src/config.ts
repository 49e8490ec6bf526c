// token-server configuration: environment -> validated, frozen object. The server's own credential
// comes from the standard AZURE_* variables (auth-core); clients and their secrets from the seed's
// AZD_AUTH_SECRET(_FILE) and/or a clients JSON document.
import { credentialEnvSchema } from '@auth-sidecars/auth-core';
import {
  ConfigError,
  csvList,
  hostSchema,
  loadConfig,
  logLevelSchema,
  portSchema,
  renamedVariables,
  type Env,
} from '@auth-sidecars/service-kit';
import { z } from 'zod';
import { ENV, RENAMED_ENV } from './constants.js';
import { scopeProblem } from './scope.js';

const optional = z.string().trim().min(1).optional();

/** Comma- or whitespace-separated list. */
const list = csvList({ whitespace: true });

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
  ...credentialEnvSchema.shape,
});

export type TokenServerConfig = Readonly<
  z.output<typeof configSchema> & {
    /** Logged at startup (deprecated variable names). */
    warnings: readonly string[];
  }
>;

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

export function loadTokenServerConfig(rawEnv: Env): TokenServerConfig {
  const { env, warnings } = renamedVariables(rawEnv, RENAMED_ENV);
  const cross = crossFieldIssues(env);
  let config: z.output<typeof configSchema>;
  try {
    config = loadConfig(configSchema, env);
  } catch (err) {
    if (err instanceof ConfigError) throw new ConfigError([...err.issues, ...cross]);
    throw err;
  }
  if (cross.length > 0) throw new ConfigError(cross);
  return Object.freeze({ ...config, warnings: Object.freeze(warnings) });
}
