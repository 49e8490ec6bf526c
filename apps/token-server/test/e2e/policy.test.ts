// The allow-list and the canonical scope, attacked through the built server against dev-entra:
// a "*" stands for one host label only, spelling variants of one resource share one provider (one
// IdP request), and the unauthenticated /readyz names no scope.
import type { LaunchedProcess } from '@auth-sidecars/testkit/process';
import { decodeJwt, getJson, launchServer, logsMatching, startFixture, type Fixture } from './support.js';

const WILD = 'wildcard-client-secret-0123456789';
const VAULT_ONLY = 'vault-client-secret-0123456789ab';

let fx: Fixture;
let server: LaunchedProcess;

const token = (scope: string, secret: string) =>
  getJson(`${server.url}/token?scope=${encodeURIComponent(scope)}`, { authorization: `Bearer ${secret}` });

beforeAll(async () => {
  fx = await startFixture();
  const env: Record<string, string> = {
    ...fx.serverEnv,
    TOKEN_SERVER_CLIENTS: JSON.stringify([
      { name: 'wild', secrets: [WILD], scopes: ['https://*.vault.azure.net'] },
      { name: 'vault', secrets: [VAULT_ONLY], scopes: ['https://vault.azure.net'] },
    ]),
  };
  delete env.TOKEN_SERVER_IMDS_CLIENT;
  server = await launchServer(env);
}, 60_000);

afterAll(async () => {
  await server?.close();
  await fx?.entra.close();
});

describe('token-server policy against hostile scopes', () => {
  it('"*" matches one host label: https://*.vault.azure.net does not allow https://evil.example/x.vault.azure.net', async () => {
    fx.entra.resetStats();
    for (const evil of [
      'https://evil.example/x.vault.azure.net',
      'https://evil.example/x.vault.azure.net/.default',
      'https://a.b.vault.azure.net/.default',
      'https://x.vault.azure.net.evil.example',
      'https://vault.azure.net@evil.example/.default',
    ]) {
      const res = await token(evil, WILD);
      expect([evil, res.status]).toEqual([evil, evil.includes('@') ? 400 : 403]);
    }
    expect(fx.entra.stats().tokenRequests).toBe(0); // refused before the IdP was asked
    const denied = await logsMatching(
      server,
      (l) => l.audit === 'denied' && l.reason === 'scope_not_allowed',
      4,
    );
    expect(denied.map((l) => l.scope)).toContain('https://evil.example/x.vault.azure.net/.default');

    const ok = await token('https://myvault.vault.azure.net', WILD);
    expect(ok.status).toBe(200);
    expect(decodeJwt(ok.body.access_token).aud).toBe('https://myvault.vault.azure.net');
  });

  it('spelling variants of one resource pass alike and share a provider: at most two IdP requests, with and without the trailing slash', async () => {
    const providersBefore = (await getJson(`${server.url}/readyz`)).body.details.providers as number;
    fx.entra.resetStats();
    const plain = [
      'https://vault.azure.net',
      'https://vault.azure.net/.default',
      'https://VAULT.azure.net',
      'HTTPS://Vault.Azure.Net/.default',
      'https://vault.azure.net:443',
    ];
    // Entra puts a resource's trailing slash into the audience (ARM's `https://management.azure.com//.default`).
    const slashed = [
      'https://vault.azure.net/',
      'https://vault.azure.net//',
      'https://vault.azure.net//.default',
      'https://vault.azure.net:443/',
    ];
    const answers = {
      plain: [] as Awaited<ReturnType<typeof token>>[],
      slashed: [] as Awaited<ReturnType<typeof token>>[],
    };
    for (const v of plain) answers.plain.push(await token(v, VAULT_ONLY));
    for (const v of slashed) answers.slashed.push(await token(v, VAULT_ONLY));
    for (const [kind, list] of Object.entries(answers)) {
      expect([kind, list.map((a) => a.status)]).toEqual([kind, list.map(() => 200)]);
      expect([kind, new Set(list.map((a) => a.body.access_token)).size]).toEqual([kind, 1]);
    }
    expect(decodeJwt(answers.plain[0]!.body.access_token).aud).toBe('https://vault.azure.net');
    expect(decodeJwt(answers.slashed[0]!.body.access_token).aud).toBe('https://vault.azure.net/');
    expect(fx.entra.stats().tokenRequests).toBe(2);
    const providersAfter = (await getJson(`${server.url}/readyz`)).body.details.providers as number;
    expect(providersAfter).toBe(providersBefore + 2);
    // Audit and metrics see the canonical scopes only.
    const issued = await logsMatching(
      server,
      (l) => l.audit === 'issued' && l.client === 'vault',
      plain.length + slashed.length,
    );
    expect(new Set(issued.map((l) => l.scope))).toEqual(
      new Set(['https://vault.azure.net/.default', 'https://vault.azure.net//.default']),
    );
  });

  it('the unauthenticated /readyz says how many scopes are held, never which', async () => {
    const ready = await getJson(`${server.url}/readyz`);
    expect(ready.status).toBe(200);
    expect(ready.body.details).toEqual({ providers: 3, valid: 3, warm: 0, warmValid: 0 });
    expect(JSON.stringify(ready.body)).not.toMatch(/vault|azure|https?:|api:/i);
  });
});
