// A real service client call: @azure/keyvault-secrets' SecretClient in a separate process, with
// ManagedIdentityCredential / DefaultAzureCredential pointed at the token-server by IDENTITY_ENDPOINT
// and IDENTITY_HEADER only, against testkit's Key Vault stand-in (HTTPS, challenge-based auth,
// dev-entra JWTs verified for the Key Vault audience).
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { jwksVerifier } from '@auth-sidecars/testkit/openai-upstream';
import { KEY_VAULT_RESOURCE, startKeyVault, type KeyVault } from '@auth-sidecars/testkit/key-vault';
import type { LaunchedProcess } from '@auth-sidecars/testkit/process';
import { launchServer, runClient, SECRETS, startFixture, type Fixture } from './support.js';

const KEYVAULT_CLIENT = join(import.meta.dirname, 'fixtures', 'keyvault-client.mjs');

let fx: Fixture;
let server: LaunchedProcess;
let vault: KeyVault;
let vaultCa: string;

beforeAll(async () => {
  fx = await startFixture();
  server = await launchServer(fx.serverEnv);
  vault = await startKeyVault({
    verify: jwksVerifier({
      jwksUrl: fx.entra.jwksUri,
      issuer: fx.entra.issuer,
      audience: KEY_VAULT_RESOURCE,
      caPem: fx.entra.caPem,
    }),
    tenantId: fx.entra.tenantId,
    secrets: { 'db-password': 'hunter2' },
  });
  vaultCa = join(fx.dir, 'vault-ca.pem');
  writeFileSync(vaultCa, vault.caPem);
});

afterAll(async () => {
  await vault?.close();
  await server?.close();
  await fx?.entra.close();
});

function secretClient(kind: 'mi' | 'dac', secret: string, args: string[]) {
  return runClient(process.execPath, [KEYVAULT_CLIENT, kind, vault.url, ...args], {
    IDENTITY_ENDPOINT: `${server.url}/msi/token`,
    IDENTITY_HEADER: secret,
    NODE_EXTRA_CA_CERTS: vaultCa, // the vault's CA; the token-server is plain http on loopback
  });
}

describe('SecretClient with a managed-identity credential served by token-server', () => {
  it('answers the challenge with a token from token-server and reads the secret', async () => {
    const from = vault.requests.length;
    const result = await secretClient('mi', SECRETS.apiOld, ['db-password']);
    expect(result).toEqual({ ok: true, name: 'db-password', value: 'hunter2' });
    const seen = vault.requests.slice(from);
    // First the unauthenticated probe and its 401 challenge, then the call with a vault token.
    expect(seen[0]).toMatchObject({ method: 'GET', status: 401 });
    expect(seen[0]?.reason).toBeUndefined();
    expect(seen.at(-1)).toMatchObject({ method: 'GET', status: 200, audience: KEY_VAULT_RESOURCE });
    const issued = server.logs().filter((l) => l.audit === 'issued' && l.protocol === 'app-service');
    expect(issued.some((l) => l.client === 'api' && l.scope === `${KEY_VAULT_RESOURCE}/.default`)).toBe(true);
  });

  it('DefaultAzureCredential writes a secret (the challenge also on PUT) and reads it back', async () => {
    const result = await secretClient('dac', SECRETS.apiNew, ['api-key', 'rotated-value']);
    expect(result).toEqual({ ok: true, name: 'api-key', value: 'rotated-value' });
    expect(vault.secret('api-key')).toBe('rotated-value');
  });

  it('a client whose allow-list lacks Key Vault gets no token, and the SDK call fails', async () => {
    const from = vault.requests.length;
    const result = await secretClient('mi', SECRETS.worker, ['db-password']);
    expect(result.ok).toBe(false);
    expect(result.message).toMatch(/scope not allowed/);
    // The vault saw only the unauthenticated probe: no token ever reached it.
    expect(vault.requests.slice(from).map((r) => r.status)).toEqual([401]);
  });
});
