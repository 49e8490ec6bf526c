// createCredential through the real @azure/identity against dev-entra over HTTPS, one test per kind.
import { createPrivateKey } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { CredentialUnavailableError } from '@azure/identity';
import { startDevEntra } from '@auth-sidecars/dev-entra';
import type { DevEntra } from '@auth-sidecars/dev-entra';
import { loadConfig } from '@auth-sidecars/service-kit';
import { credentialConfigFromEnv, credentialEnvSchema } from '../src/config.js';
import { createCredential } from '../src/credential.js';
import { TokenUnavailableError } from '../src/errors.js';
import { TokenProvider } from '../src/token-provider.js';
import { SCOPE, claimsOf, tempDir } from './helpers/dev-entra.js';

let entra: DevEntra;
let dir: Awaited<ReturnType<typeof tempDir>>;

beforeAll(async () => {
  entra = await startDevEntra();
  entra.trust();
  dir = await tempDir();
});

afterAll(async () => {
  await entra?.close();
  await dir?.remove();
});

/** The credential an app would build from its environment. */
function credentialFromEnv(env: Record<string, string>) {
  const config = credentialConfigFromEnv(
    loadConfig(credentialEnvSchema, {
      AZURE_TENANT_ID: entra.tenantId,
      AZURE_AUTHORITY_HOST: entra.url,
      ...env,
    }),
  );
  return { config, credential: createCredential(config) };
}

function lastTokenRequest() {
  return entra.requestLog.filter((e) => e.path.endsWith('/oauth2/v2.0/token')).at(-1);
}

describe('createCredential against dev-entra', () => {
  it('certificate: one PEM file with certificate and key (AZURE_CERTIFICATE_PATH, the openai-proxy name)', async () => {
    const cert = await entra.createClientCertificate();
    const app = entra.registerApp({ certificatePem: cert.certPem });
    await writeFile(dir.file('both.pem'), cert.pem);
    const { config, credential } = credentialFromEnv({
      AZURE_CLIENT_ID: app.clientId,
      AZURE_CERTIFICATE_PATH: dir.file('both.pem'),
    });
    expect(config.kind).toBe('certificate');
    const token = await credential.getToken(SCOPE);
    expect(claimsOf(token!.token)).toMatchObject({
      aud: 'api://auth-core-test',
      azp: app.clientId,
      tid: entra.tenantId,
    });
    expect(lastTokenRequest()).toMatchObject({
      clientId: app.clientId,
      clientAuth: 'certificate',
      status: 200,
    });
  });

  it('certificate: separate certificate and key files, key encrypted with a password', async () => {
    const cert = await entra.createClientCertificate();
    const app = entra.registerApp({ certificatePem: cert.certPem });
    const encryptedKey = createPrivateKey(cert.keyPem).export({
      type: 'pkcs8',
      format: 'pem',
      cipher: 'aes-256-cbc',
      passphrase: 'pa55',
    });
    await writeFile(dir.file('tls.crt'), cert.certPem);
    await writeFile(dir.file('tls.key'), encryptedKey);
    const { credential } = credentialFromEnv({
      AZURE_CLIENT_ID: app.clientId,
      AZURE_CLIENT_CERTIFICATE_PATH: dir.file('tls.crt'),
      AZURE_CLIENT_KEY_PATH: dir.file('tls.key'),
      AZURE_CLIENT_CERTIFICATE_PASSWORD: 'pa55',
    });
    const token = await credential.getToken(SCOPE);
    expect(claimsOf(token!.token).azp).toBe(app.clientId);
  });

  it('certificate: an unregistered certificate is refused by the IdP, a typed 503 with a hint', async () => {
    const registered = await entra.createClientCertificate();
    const stranger = await entra.createClientCertificate();
    const app = entra.registerApp({ certificatePem: registered.certPem });
    await writeFile(dir.file('stranger.pem'), stranger.pem);
    const { credential } = credentialFromEnv({
      AZURE_CLIENT_ID: app.clientId,
      AZURE_CLIENT_CERTIFICATE_PATH: dir.file('stranger.pem'),
    });
    await expect(credential.getToken(SCOPE)).rejects.toThrow(/AADSTS700027/);
    const provider = new TokenProvider({ credential, scope: SCOPE });
    const error = await provider.start().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TokenUnavailableError);
    expect((error as Error).message).toContain('the identity provider refused the request');
    expect((error as Error).message).toContain('AADSTS700027');
    expect((error as Error).message).not.toContain('PRIVATE KEY');
    expect(lastTokenRequest()).toMatchObject({ clientId: app.clientId, status: 401 });
  });

  it('certificate: a missing file names the file and the variable to check', async () => {
    const { credential } = credentialFromEnv({
      AZURE_CLIENT_ID: 'c',
      AZURE_CLIENT_CERTIFICATE_PATH: dir.file('nope.pem'),
    });
    const error = await credential.getToken(SCOPE).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CredentialUnavailableError);
    expect((error as Error).message).toContain(dir.file('nope.pem'));
    expect((error as Error).message).toContain('ENOENT');
  });

  it('client secret', async () => {
    const app = entra.registerApp({ clientSecret: 'correct-horse-battery-staple' });
    const { config, credential } = credentialFromEnv({
      AZURE_CLIENT_ID: app.clientId,
      AZURE_CLIENT_SECRET: 'correct-horse-battery-staple',
    });
    expect(config.kind).toBe('client-secret');
    const token = await credential.getToken(SCOPE);
    expect(claimsOf(token!.token)).toMatchObject({ azp: app.clientId, aud: 'api://auth-core-test' });
    expect(lastTokenRequest()).toMatchObject({ clientAuth: 'secret', status: 200 });
    const wrong = credentialFromEnv({
      AZURE_CLIENT_ID: app.clientId,
      AZURE_CLIENT_SECRET: 'wrong',
    }).credential;
    await expect(wrong.getToken(SCOPE)).rejects.toThrow(/AADSTS7000215/);
  });

  it('workload identity: federated token file', async () => {
    const subject = 'system:serviceaccount:apps:auth-core-test';
    const app = entra.registerApp({ federatedSubject: subject });
    await writeFile(dir.file('azure-identity-token'), entra.issueFederatedToken({ subject }));
    const { config, credential } = credentialFromEnv({
      AZURE_CLIENT_ID: app.clientId,
      AZURE_FEDERATED_TOKEN_FILE: dir.file('azure-identity-token'),
    });
    expect(config.kind).toBe('workload-identity');
    const token = await credential.getToken(SCOPE);
    expect(claimsOf(token!.token)).toMatchObject({ azp: app.clientId });
    expect(lastTokenRequest()).toMatchObject({ clientAuth: 'federated', status: 200 });
  });

  it('default: DefaultAzureCredential picks up the AZURE_* variables the SDK reads itself', async () => {
    const app = entra.registerApp({ clientSecret: 'from-the-environment' });
    const env = {
      AZURE_TENANT_ID: entra.tenantId,
      AZURE_CLIENT_ID: app.clientId,
      AZURE_CLIENT_SECRET: 'from-the-environment',
      AZURE_AUTHORITY_HOST: entra.url,
    };
    await withProcessEnv(env, async () => {
      const credential = createCredential({
        kind: 'default',
        tenantId: entra.tenantId,
        clientId: app.clientId,
        authorityHost: entra.url,
      });
      const token = await credential.getToken(SCOPE);
      expect(claimsOf(token!.token)).toMatchObject({ azp: app.clientId, aud: 'api://auth-core-test' });
    });
    expect(lastTokenRequest()).toMatchObject({ clientId: app.clientId, clientAuth: 'secret', status: 200 });
  });

  it('managed identity: App Service protocol (IDENTITY_ENDPOINT + IDENTITY_HEADER), as token-server speaks it', async () => {
    const seen: { path: string; header: string | undefined }[] = [];
    // Minimal App Service managed-identity endpoint handing out dev-entra tokens.
    const endpoint = http.createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://localhost');
      seen.push({
        path: url.pathname + url.search,
        header: req.headers['x-identity-header'] as string | undefined,
      });
      const resource = url.searchParams.get('resource') ?? '';
      const body = {
        access_token: entra.issueAccessToken({ scope: resource, clientId: 'managed-identity-client' }),
        expires_on: String(Math.floor(Date.now() / 1000) + 3600),
        resource,
        token_type: 'Bearer',
      };
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify(body));
    });
    await new Promise<void>((resolve) => endpoint.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = endpoint.address() as AddressInfo;
      await withProcessEnv(
        { IDENTITY_ENDPOINT: `http://127.0.0.1:${port}/msi/token`, IDENTITY_HEADER: 'identity-header-value' },
        async () => {
          const { config, credential } = credentialFromEnv({ AZURE_CREDENTIAL_KIND: 'managed-identity' });
          expect(config.kind).toBe('managed-identity');
          const token = await credential.getToken(SCOPE);
          expect(claimsOf(token!.token)).toMatchObject({
            aud: 'api://auth-core-test',
            azp: 'managed-identity-client',
          });
        },
      );
      expect(seen).toEqual([
        {
          path: '/msi/token?api-version=2019-08-01&resource=api%3A%2F%2Fauth-core-test',
          header: 'identity-header-value',
        },
      ]);
    } finally {
      endpoint.close();
    }
  });

  it('each acquisition is a real token request (no SDK cache answering a forced refresh)', async () => {
    const app = entra.registerApp({ clientSecret: 'abc' });
    const { credential } = credentialFromEnv({ AZURE_CLIENT_ID: app.clientId, AZURE_CLIENT_SECRET: 'abc' });
    const before = entra.stats().byClient[app.clientId] ?? 0;
    const a = await credential.getToken(SCOPE);
    const b = await credential.getToken(SCOPE);
    expect(entra.stats().byClient[app.clientId]).toBe(before + 2);
    expect(a!.token).not.toBe(b!.token);
  });
});

/** The SDK's DefaultAzureCredential and ManagedIdentityCredential read process.env themselves. */
async function withProcessEnv(env: Record<string, string>, fn: () => Promise<void>): Promise<void> {
  const saved = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
  Object.assign(process.env, env);
  try {
    await fn();
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}
