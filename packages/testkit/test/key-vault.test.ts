// The Key Vault stand-in over HTTPS: the challenge a client gets first, dev-entra tokens verified
// (signature and audience), and Key Vault's secret shapes. (@azure/keyvault-secrets' SecretClient
// drives it through token-server in apps/token-server/test/e2e/key-vault.test.ts.)
import { request as httpsRequest } from 'node:https';
import { startDevEntra, type DevEntra } from '@auth-sidecars/dev-entra';
import { KEY_VAULT_RESOURCE, startKeyVault, type KeyVault } from '../src/key-vault.js';
import { jwksVerifier } from '../src/openai-upstream.js';

let entra: DevEntra;
let vault: KeyVault;

beforeAll(async () => {
  entra = await startDevEntra();
  vault = await startKeyVault({
    verify: jwksVerifier({
      jwksUrl: entra.jwksUri,
      issuer: entra.issuer,
      audience: KEY_VAULT_RESOURCE,
      caPem: entra.caPem,
    }),
    tenantId: entra.tenantId,
    secrets: { 'db-password': 'hunter2' },
  });
});

afterAll(async () => {
  await vault?.close();
  await entra?.close();
});

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Record<string, unknown>;
}

function call(method: string, path: string, token?: string, body?: unknown): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      `${vault.url}${path}`,
      {
        method,
        ca: vault.caPem,
        headers: {
          ...(token ? { authorization: `Bearer ${token}` } : {}),
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
      },
      (res) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c.toString('utf8')));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: JSON.parse(text) as Record<string, unknown>,
          }),
        );
      },
    );
    req.on('error', reject);
    req.end(body === undefined ? undefined : JSON.stringify(body));
  });
}

const vaultToken = () => entra.issueAccessToken({ scope: `${KEY_VAULT_RESOURCE}/.default` });

describe('Key Vault stand-in', () => {
  it('answers a request without a token with the challenge naming the tenant and the resource', async () => {
    const res = await call('GET', '/secrets/db-password?api-version=7.6');
    expect(res.status).toBe(401);
    expect(res.headers['www-authenticate']).toBe(
      `Bearer authorization="https://login.microsoftonline.com/${entra.tenantId}", resource="https://vault.azure.net"`,
    );
    expect(res.body).toMatchObject({ error: { code: 'Unauthorized' } });
  });

  it('refuses a dev-entra token for another audience, and a token not signed by dev-entra', async () => {
    const storage = entra.issueAccessToken({ scope: 'https://storage.azure.com/.default' });
    const wrongAudience = await call('GET', '/secrets/db-password?api-version=7.6', storage);
    expect(wrongAudience.status).toBe(401);
    expect(wrongAudience.headers['www-authenticate']).toMatch(/^Bearer authorization=/);
    const [header, payload] = vaultToken().split('.');
    const forged = await call('GET', '/secrets/db-password?api-version=7.6', `${header}.${payload}.AAAA`);
    expect(forged.status).toBe(401);
    expect(vault.requests.filter((r) => r.status === 401 && r.reason).length).toBeGreaterThanOrEqual(2);
  });

  it('gets, sets, versions and lists secrets in Key Vault shapes with a valid token', async () => {
    const token = vaultToken();
    const got = await call('GET', '/secrets/db-password?api-version=7.6', token);
    expect(got.status).toBe(200);
    expect(got.body).toMatchObject({ value: 'hunter2', attributes: { enabled: true } });
    expect(got.body.id).toMatch(new RegExp(`^${vault.url}/secrets/db-password/[0-9a-f]{32}$`));

    const set = await call('PUT', '/secrets/db-password?api-version=7.6', token, { value: 'rotated' });
    expect(set.status).toBe(200);
    expect(vault.secret('db-password')).toBe('rotated');
    const old = await call('GET', `${new URL(got.body.id as string).pathname}?api-version=7.6`, token);
    expect(old.body.value).toBe('hunter2');

    const missing = await call('GET', '/secrets/nope?api-version=7.6', token);
    expect(missing).toMatchObject({ status: 404, body: { error: { code: 'SecretNotFound' } } });
    const listed = await call('GET', '/secrets?api-version=7.6', token);
    expect(listed.body.value).toEqual([expect.objectContaining({ id: `${vault.url}/secrets/db-password` })]);
    expect(JSON.stringify(listed.body)).not.toContain('rotated');
    const noVersion = await call('GET', '/secrets/db-password', token);
    expect(noVersion.status).toBe(400);
    expect(vault.requests.filter((r) => r.audience === KEY_VAULT_RESOURCE).length).toBeGreaterThanOrEqual(5);
  });
});
