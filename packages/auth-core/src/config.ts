// The standard AZURE_* variables as a zod schema, and their translation into a CredentialConfig.
import { z } from 'zod';
import { ConfigError } from '@auth-sidecars/service-kit/errors';
import { CREDENTIAL_KINDS } from './constants.js';

export type CredentialKind = (typeof CREDENTIAL_KINDS)[number];

/** What `createCredential` needs; apps with their own variable names (aad-auth-proxy's) build it directly. */
export interface CredentialConfig {
  kind: CredentialKind;
  tenantId?: string;
  clientId?: string;
  clientSecret?: string;
  /** PEM file with the certificate, and its private key unless `keyPath` is given. */
  certificatePath?: string;
  /** PEM file with the private key, when the certificate file has none. */
  keyPath?: string;
  certificatePassword?: string;
  /** Send the x5c chain (subject name / issuer authentication). */
  sendCertificateChain?: boolean;
  federatedTokenFile?: string;
  /** e.g. https://login.microsoftonline.com or a dev-entra URL. */
  authorityHost?: string;
  /** Default: true for hosts outside Microsoft's clouds, false otherwise. */
  disableInstanceDiscovery?: boolean;
}

const optionalString = z.string().trim().min(1).optional();
/** true/false, 1/0, yes/no, on/off (any case); unset stays undefined ("decide for me"). */
const booleanString = z.stringbool().optional();

/**
 * The standard AZURE_* variables, all optional here; which ones are required depends on the
 * credential kind and is checked by `credentialConfigFromEnv`. Spread `.shape` into an app schema.
 */
export const credentialEnvSchema = z.object({
  AZURE_CREDENTIAL_KIND: z.enum(CREDENTIAL_KINDS).optional(),
  AZURE_TENANT_ID: optionalString,
  AZURE_CLIENT_ID: optionalString,
  AZURE_CLIENT_SECRET: optionalString,
  AZURE_CLIENT_CERTIFICATE_PATH: optionalString,
  AZURE_CERTIFICATE_PATH: optionalString,
  AZURE_CLIENT_KEY_PATH: optionalString,
  AZURE_CLIENT_CERTIFICATE_PASSWORD: optionalString,
  AZURE_CLIENT_SEND_CERTIFICATE_CHAIN: booleanString,
  AZURE_FEDERATED_TOKEN_FILE: optionalString,
  AZURE_AUTHORITY_HOST: z.url({ protocol: /^https?$/ }).optional(),
  AZURE_DISABLE_INSTANCE_DISCOVERY: booleanString,
});

export type CredentialEnv = z.output<typeof credentialEnvSchema>;

/**
 * Picks the credential kind (explicit `AZURE_CREDENTIAL_KIND`, else inferred in the order the Azure
 * SDK's EnvironmentCredential uses: secret, certificate, then federated token file; else the
 * DefaultAzureCredential chain) and checks that its required variables are present.
 * Throws ConfigError listing every missing variable.
 */
export function credentialConfigFromEnv(env: CredentialEnv): CredentialConfig {
  const certificatePath = env.AZURE_CLIENT_CERTIFICATE_PATH ?? env.AZURE_CERTIFICATE_PATH;
  const kind: CredentialKind =
    env.AZURE_CREDENTIAL_KIND ??
    (env.AZURE_CLIENT_SECRET
      ? 'client-secret'
      : certificatePath
        ? 'certificate'
        : env.AZURE_FEDERATED_TOKEN_FILE
          ? 'workload-identity'
          : 'default');
  const config: CredentialConfig = stripUndefined({
    kind,
    tenantId: env.AZURE_TENANT_ID,
    clientId: env.AZURE_CLIENT_ID,
    clientSecret: env.AZURE_CLIENT_SECRET,
    certificatePath,
    keyPath: env.AZURE_CLIENT_KEY_PATH,
    certificatePassword: env.AZURE_CLIENT_CERTIFICATE_PASSWORD,
    sendCertificateChain: env.AZURE_CLIENT_SEND_CERTIFICATE_CHAIN,
    federatedTokenFile: env.AZURE_FEDERATED_TOKEN_FILE,
    authorityHost: env.AZURE_AUTHORITY_HOST,
    disableInstanceDiscovery: env.AZURE_DISABLE_INSTANCE_DISCOVERY,
  });
  assertCredentialConfig(config);
  return config;
}

/** Every problem with `config`, phrased with the variable names a user sets. */
export function credentialConfigIssues(config: CredentialConfig): string[] {
  const issues: string[] = [];
  const need = (value: string | undefined, name: string) => {
    if (!value) issues.push(`${name}: required for AZURE_CREDENTIAL_KIND=${config.kind} but not set`);
  };
  switch (config.kind) {
    case 'client-secret':
      need(config.tenantId, 'AZURE_TENANT_ID');
      need(config.clientId, 'AZURE_CLIENT_ID');
      need(config.clientSecret, 'AZURE_CLIENT_SECRET');
      break;
    case 'certificate':
      need(config.tenantId, 'AZURE_TENANT_ID');
      need(config.clientId, 'AZURE_CLIENT_ID');
      need(config.certificatePath, 'AZURE_CLIENT_CERTIFICATE_PATH (or AZURE_CERTIFICATE_PATH)');
      break;
    case 'workload-identity':
      need(config.tenantId, 'AZURE_TENANT_ID');
      need(config.clientId, 'AZURE_CLIENT_ID');
      need(config.federatedTokenFile, 'AZURE_FEDERATED_TOKEN_FILE');
      break;
    case 'managed-identity':
    case 'default':
      break;
    default:
      issues.push(`AZURE_CREDENTIAL_KIND: unknown kind "${String((config as { kind: unknown }).kind)}"`);
  }
  if (config.keyPath && config.kind === 'certificate' && !config.certificatePath) {
    issues.push('AZURE_CLIENT_KEY_PATH: set, but no certificate path to pair it with');
  }
  return issues;
}

export function assertCredentialConfig(config: CredentialConfig): void {
  const issues = credentialConfigIssues(config);
  if (issues.length > 0) throw new ConfigError(issues);
}

function stripUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}
