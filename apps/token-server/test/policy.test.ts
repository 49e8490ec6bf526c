import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '@auth-sidecars/service-kit';
import { loadPolicy, PolicyStore } from '../src/policy.js';

const S1 = 'api-secret-0000000001';
const S2 = 'api-secret-0000000002';
const W1 = 'worker-secret-000000001';
const dir = mkdtempSync(join(tmpdir(), 'token-server-policy-'));

function issuesOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigError) return err.issues;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

describe('loadPolicy', () => {
  it('seed mode: AZD_AUTH_SECRET makes a "default" client allowed everything', () => {
    const policy = loadPolicy({ secret: S1, allowedScopes: ['*'] });
    const client = policy.authenticate(S1);
    expect(client?.name).toBe('default');
    expect(policy.allows(client!, 'https://anything.example/.default')).toBe(true);
    expect(policy.authenticate('wrong-secret-000000000')).toBeUndefined();
    expect(policy.authenticate(undefined)).toBeUndefined();
  });

  it('secret file: one secret per line, both valid (rotation)', () => {
    const file = join(dir, 'secret');
    writeFileSync(file, `${S1}\n${S2}\n\n`);
    const policy = loadPolicy({ secretFile: file, allowedScopes: ['https://vault.azure.net'] });
    expect(policy.authenticate(S1)?.name).toBe('default');
    expect(policy.authenticate(S2)?.name).toBe('default');
  });

  it('clients JSON: each client its secrets and allow-list; scopes and resources compare alike', () => {
    const policy = loadPolicy({
      allowedScopes: ['*'],
      clientsJson: JSON.stringify({
        clients: [
          {
            name: 'api',
            secrets: [S1, S2],
            scopes: ['https://vault.azure.net/.default', 'https://storage.azure.com'],
          },
          { name: 'worker', secrets: [W1], scopes: ['https://*.example.com'] },
        ],
      }),
    });
    const api = policy.authenticate(S2)!;
    const worker = policy.authenticate(W1)!;
    expect(api.name).toBe('api');
    expect(policy.allows(api, 'https://vault.azure.net')).toBe(true);
    expect(policy.allows(api, 'https://VAULT.azure.net/.default')).toBe(true);
    expect(policy.allows(api, 'https://storage.azure.com/.default')).toBe(true);
    expect(policy.allows(api, 'https://management.azure.com/.default')).toBe(false);
    expect(policy.allows(worker, 'https://a.example.com/.default')).toBe(true);
    expect(policy.allows(worker, 'https://a.example.com.evil.test/.default')).toBe(false);
    expect(policy.allows(worker, 'https://vault.azure.net/.default')).toBe(false);
  });

  it('"*" in a pattern stands for exactly one DNS label of the host', () => {
    const policy = loadPolicy({ secret: S1, allowedScopes: ['https://*.vault.azure.net'] });
    const client = policy.authenticate(S1)!;
    const allows = (scope: string) => policy.allows(client, scope);
    expect(allows('https://myvault.vault.azure.net')).toBe(true);
    expect(allows('https://MyVault.vault.azure.net/.default')).toBe(true);
    expect(allows('https://my-vault-2.vault.azure.net//')).toBe(true);
    // What a "*" matching any run of characters let through:
    expect(allows('https://evil.example/x.vault.azure.net')).toBe(false);
    expect(allows('https://evil.example/x.vault.azure.net/.default')).toBe(false);
    expect(allows('https://evil.example?x.vault.azure.net')).toBe(false);
    expect(allows('https://a.b.vault.azure.net')).toBe(false);
    expect(allows('https://vault.azure.net')).toBe(false);
    expect(allows('https://.vault.azure.net')).toBe(false);
    expect(allows('https://x.vault.azure.net.evil.example')).toBe(false);
    expect(allows('https://x.vault.azure.net:8443')).toBe(false);
    expect(allows('https://x.vault.azure.net/other')).toBe(false);
    expect(allows('http://x.vault.azure.net')).toBe(false);
    expect(allows('https://x_y.vault.azure.net')).toBe(false);
  });

  it('refuses patterns whose "*" is not a whole host label, naming client and entry', () => {
    const issues = issuesOf(() =>
      loadPolicy({
        allowedScopes: ['*'],
        clientsJson: JSON.stringify([
          { name: 'a', secrets: [S1], scopes: ['https://vault-*.azure.net'] },
          { name: 'b', secrets: [S2], scopes: ['https://vault.azure.net/*'] },
          { name: 'c', secrets: [W1], scopes: ['*://vault.azure.net', 'https://*.vault.azure.net'] },
        ]),
      }),
    );
    expect(issues).toEqual([
      'client a: scope "https://vault-*.azure.net": "*" may only stand for a whole label of the host, as in https://*.vault.azure.net',
      'client b: scope "https://vault.azure.net/*": "*" may only stand for a whole label of the host, as in https://*.vault.azure.net',
      'client c: scope "*://vault.azure.net": "*" may only stand for a whole label of the host, as in https://*.vault.azure.net',
    ]);
  });

  it('compares canonical resources: host case, trailing slash, default port, bare vs /.default', () => {
    const policy = loadPolicy({
      secret: S1,
      allowedScopes: ['https://Vault.Azure.net/', 'api://app/Reports'],
    });
    const client = policy.authenticate(S1)!;
    for (const v of [
      'https://vault.azure.net',
      'https://VAULT.azure.net//.default',
      'https://vault.azure.net:443',
    ])
      expect([v, policy.allows(client, v)]).toEqual([v, true]);
    expect(policy.allows(client, 'api://APP/Reports/.default')).toBe(true);
    expect(policy.allows(client, 'api://app/reports')).toBe(false); // a path keeps its case
  });

  it('clients file with secretFiles, plus the default client, side by side', () => {
    const secretFile = join(dir, 'worker-secret');
    writeFileSync(secretFile, `${W1}\n`);
    const clientsFile = join(dir, 'clients.json');
    writeFileSync(
      clientsFile,
      JSON.stringify([{ name: 'worker', secretFiles: [secretFile], scopes: ['*'] }]),
    );
    const policy = loadPolicy({ secret: S1, allowedScopes: ['https://vault.azure.net'], clientsFile });
    expect(policy.clients.map((c) => c.name).sort()).toEqual(['default', 'worker']);
    expect(policy.authenticate(W1)?.name).toBe('worker');
  });

  it('reports every problem at once, naming clients but never secrets', () => {
    const issues = issuesOf(() =>
      loadPolicy({
        secret: 'tiny-sekret',
        allowedScopes: ['*'],
        clientsJson: JSON.stringify([
          { name: 'a', secrets: [S1], scopes: ['*'] },
          { name: 'a', secrets: [S2], scopes: ['*'] },
          { name: 'b', secrets: [], scopes: ['*'] },
          { name: 'c', secrets: [S1], scopes: ['*'] },
        ]),
        clientsFile: join(dir, 'missing.json'),
      }),
    );
    expect(issues.join('\n')).toMatch(/client default: a secret is shorter than 16/);
    expect(issues.join('\n')).toMatch(/client a: defined twice/);
    expect(issues.join('\n')).toMatch(/client b: no secret/);
    expect(issues.join('\n')).toMatch(/client c: shares a secret with client a/);
    expect(issues.join('\n')).toMatch(/TOKEN_SERVER_CLIENTS_FILE: cannot read \(ENOENT\)/);
    expect(issues.join('\n')).not.toContain(S1);
    expect(issues.join('\n')).not.toContain('tiny-sekret');
  });

  it('refuses bad JSON and unknown fields', () => {
    expect(issuesOf(() => loadPolicy({ allowedScopes: [], clientsJson: '{nope' }))).toContain(
      'TOKEN_SERVER_CLIENTS: not valid JSON',
    );
    const issues = issuesOf(() =>
      loadPolicy({
        allowedScopes: [],
        clientsJson: JSON.stringify([{ name: 'x', secrets: [S1], scopes: ['*'], admin: true }]),
      }),
    );
    expect(issues.join('\n')).toMatch(/TOKEN_SERVER_CLIENTS/);
  });

  it('requires at least one client', () => {
    expect(issuesOf(() => loadPolicy({ allowedScopes: ['*'] })).join('\n')).toMatch(/no client configured/);
  });
});

describe('PolicyStore', () => {
  it('picks up a rotated secret file and keeps the old policy when a reload is broken', () => {
    const file = join(dir, 'rotating');
    writeFileSync(file, `${S1}\n`);
    const store = new PolicyStore({ secretFile: file, allowedScopes: ['*'] });
    expect(store.reload()).toBe(false);
    writeFileSync(file, `${S1}\n${S2}\n`);
    expect(store.reload()).toBe(true);
    expect(store.current.authenticate(S2)?.name).toBe('default');
    writeFileSync(file, 'tiny\n');
    expect(() => store.reload()).toThrow(ConfigError);
    expect(store.current.authenticate(S1)?.name).toBe('default');
  });
});
