import { ConfigError, loadConfig } from '@auth-sidecars/service-kit';
import { z } from 'zod';
import { credentialConfigFromEnv, credentialEnvSchema } from '../src/config.js';
import {
  AuthorityEnvVars,
  ClientCertificateEnvVars,
  ClientSecretEnvVars,
  CredentialKindEnvVars,
  ManagedIdentityEnvVars,
  WorkloadIdentityEnvVars,
} from '../src/constants.js';
import { createCredential } from '../src/credential.js';
import { authorityOptions, isMicrosoftAuthorityHost } from '../src/credentials/authority.js';

const ids = { AZURE_TENANT_ID: 'tenant-1', AZURE_CLIENT_ID: 'client-1' };

function fromEnv(env: Record<string, string>) {
  return credentialConfigFromEnv(loadConfig(credentialEnvSchema, env));
}

function configErrorOf(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error('expected a ConfigError');
}

describe('credentialConfigFromEnv', () => {
  it('reads exactly the variables named in the constant arrays', () => {
    const named = new Set([
      ...CredentialKindEnvVars,
      ...ClientSecretEnvVars,
      ...ClientCertificateEnvVars,
      ...WorkloadIdentityEnvVars,
      ...ManagedIdentityEnvVars,
      ...AuthorityEnvVars,
    ]);
    expect(new Set(Object.keys(credentialEnvSchema.shape))).toEqual(named);
  });

  it('defaults to the DefaultAzureCredential chain when nothing is set', () => {
    expect(fromEnv({})).toEqual({ kind: 'default' });
  });

  it('infers the kind from the variables present', () => {
    expect(fromEnv({ ...ids, AZURE_CLIENT_SECRET: 's3cret' }).kind).toBe('client-secret');
    expect(fromEnv({ ...ids, AZURE_CLIENT_CERTIFICATE_PATH: '/certs/tls.pem' }).kind).toBe('certificate');
    expect(fromEnv({ ...ids, AZURE_FEDERATED_TOKEN_FILE: '/var/run/token' }).kind).toBe('workload-identity');
    expect(fromEnv({ ...ids, AZURE_CREDENTIAL_KIND: 'managed-identity' })).toEqual({
      kind: 'managed-identity',
      ...{ tenantId: 'tenant-1', clientId: 'client-1' },
    });
  });

  it("accepts the openai-proxy seed's AZURE_CERTIFICATE_PATH and a separate key file", () => {
    expect(fromEnv({ ...ids, AZURE_CERTIFICATE_PATH: '/certs/both.pem' })).toMatchObject({
      kind: 'certificate',
      certificatePath: '/certs/both.pem',
    });
    expect(
      fromEnv({ ...ids, AZURE_CLIENT_CERTIFICATE_PATH: '/c/tls.crt', AZURE_CLIENT_KEY_PATH: '/c/tls.key' }),
    ).toMatchObject({
      certificatePath: '/c/tls.crt',
      keyPath: '/c/tls.key',
    });
  });

  it('lists every missing variable at once', () => {
    const error = configErrorOf(() => fromEnv({ AZURE_CREDENTIAL_KIND: 'certificate' }));
    expect(error.issues).toEqual([
      'AZURE_TENANT_ID: required for AZURE_CREDENTIAL_KIND=certificate but not set',
      'AZURE_CLIENT_ID: required for AZURE_CREDENTIAL_KIND=certificate but not set',
      'AZURE_CLIENT_CERTIFICATE_PATH (or AZURE_CERTIFICATE_PATH): required for AZURE_CREDENTIAL_KIND=certificate but not set',
    ]);
    expect(configErrorOf(() => fromEnv({ AZURE_FEDERATED_TOKEN_FILE: '/t' })).issues).toHaveLength(2);
  });

  it('rejects an unknown kind and a malformed authority host through the schema', () => {
    const error = configErrorOf(() =>
      loadConfig(credentialEnvSchema, { AZURE_CREDENTIAL_KIND: 'magic', AZURE_AUTHORITY_HOST: 'not a url' }),
    );
    expect(error.issues.join('\n')).toMatch(/AZURE_CREDENTIAL_KIND/);
    expect(error.issues.join('\n')).toMatch(/AZURE_AUTHORITY_HOST/);
  });

  it('composes into an app schema through .shape', () => {
    const appSchema = z.object({ ...credentialEnvSchema.shape, PORT: z.coerce.number().default(8080) });
    const parsed = loadConfig(appSchema, { ...ids, AZURE_CLIENT_SECRET: 'x', PORT: '9000' });
    expect(credentialConfigFromEnv(parsed).kind).toBe('client-secret');
    expect(parsed.PORT).toBe(9000);
  });

  it('createCredential refuses an incomplete config with ConfigError', () => {
    expect(() => createCredential({ kind: 'workload-identity', clientId: 'c' })).toThrow(ConfigError);
  });
});

describe('authority host', () => {
  it('disables instance discovery for hosts outside Microsoft clouds', () => {
    expect(authorityOptions({ kind: 'default', authorityHost: 'https://127.0.0.1:8443/' })).toEqual({
      authorityHost: 'https://127.0.0.1:8443',
      disableInstanceDiscovery: true,
    });
    expect(
      authorityOptions({ kind: 'default', authorityHost: 'https://login.microsoftonline.us' })
        .disableInstanceDiscovery,
    ).toBe(false);
    expect(isMicrosoftAuthorityHost('https://login.microsoftonline.com')).toBe(true);
    expect(isMicrosoftAuthorityHost('https://login.microsoftonline.com.evil.test')).toBe(false);
  });

  it('lets AZURE_DISABLE_INSTANCE_DISCOVERY override the guess', () => {
    const config = fromEnv({
      AZURE_AUTHORITY_HOST: 'https://login.microsoftonline.com',
      AZURE_DISABLE_INSTANCE_DISCOVERY: 'true',
    });
    expect(authorityOptions(config).disableInstanceDiscovery).toBe(true);
    expect(
      authorityOptions(
        fromEnv({ AZURE_AUTHORITY_HOST: 'https://127.0.0.1:1', AZURE_DISABLE_INSTANCE_DISCOVERY: 'false' }),
      ).disableInstanceDiscovery,
    ).toBe(false);
    expect(
      authorityOptions(
        fromEnv({ AZURE_AUTHORITY_HOST: 'https://127.0.0.1:1', AZURE_DISABLE_INSTANCE_DISCOVERY: 'OFF' }),
      ).disableInstanceDiscovery,
    ).toBe(false);
    expect(configErrorOf(() => fromEnv({ AZURE_DISABLE_INSTANCE_DISCOVERY: 'maybe' })).issues.join()).toMatch(
      /AZURE_DISABLE_INSTANCE_DISCOVERY/,
    );
  });
});
