import {
  canonicalResource,
  canonicalScope,
  resourceToScope,
  scopeProblem,
  scopeToResource,
} from '../src/scope.js';

describe('resource <-> scope', () => {
  it('adds and strips /.default', () => {
    expect(resourceToScope('https://vault.azure.net')).toBe('https://vault.azure.net/.default');
    expect(scopeToResource('https://vault.azure.net/.default')).toBe('https://vault.azure.net');
  });
  it('keeps a trailing slash of a v1 resource (scope gets the double slash Entra expects)', () => {
    expect(resourceToScope('https://management.core.windows.net/')).toBe(
      'https://management.core.windows.net//.default',
    );
    expect(scopeToResource('https://management.core.windows.net//.default')).toBe(
      'https://management.core.windows.net/',
    );
  });
  it('leaves a scope alone and round-trips', () => {
    expect(resourceToScope('api://x/.default')).toBe('api://x/.default');
    expect(scopeToResource('api://x/read')).toBe('api://x/read');
    for (const r of ['https://storage.azure.com', '6dae42f8-4368-4678-94ff-3960e28e3630'])
      expect(scopeToResource(resourceToScope(r))).toBe(r);
  });
});

describe('scopeProblem', () => {
  it('accepts one scope', () => {
    expect(scopeProblem('https://vault.azure.net/.default', 'scope')).toBeUndefined();
  });
  it.each([
    [undefined, /required/],
    ['', /required/],
    [['a', 'b'], /once/],
    ['https://a/.default https://b/.default', /without spaces/],
    ['x'.repeat(600), /too long/],
    ['/.default', /no resource/],
    ['caf\u00e9', /without spaces/],
  ])('refuses %p', (value, message) => {
    expect(scopeProblem(value, 'scope')).toMatch(message);
  });
});

describe('canonicalScope: one spelling per resource', () => {
  it.each([
    'https://vault.azure.net',
    'https://vault.azure.net/.default',
    'https://VAULT.Azure.NET',
    'HTTPS://Vault.Azure.Net/.default',
    'https://vault.azure.net:443',
  ])('%s -> https://vault.azure.net/.default', (variant) => {
    expect(canonicalScope(variant)).toBe('https://vault.azure.net/.default');
  });

  it.each([
    'https://management.azure.com/',
    'https://management.azure.com//',
    'https://management.azure.com//.default',
    'https://Management.Azure.com:443///.default',
  ])('%s keeps the one trailing slash Entra puts into the audience', (variant) => {
    expect(canonicalScope(variant)).toBe('https://management.azure.com//.default');
  });

  it('keeps the path case, a non-default port and the app id form apart', () => {
    expect(canonicalScope('api://App-Id/Reports')).toBe('api://app-id/Reports/.default');
    expect(canonicalScope('https://host.example:8443/x/')).toBe('https://host.example:8443/x//.default');
    expect(canonicalScope('6DAE42F8-4368-4678-94FF-3960E28E3630')).toBe(
      '6dae42f8-4368-4678-94ff-3960e28e3630/.default',
    );
    expect(canonicalResource('https://evil.example/x.vault.azure.net')).toBe(
      'https://evil.example/x.vault.azure.net',
    );
  });

  it('is idempotent', () => {
    for (const v of ['https://Vault.azure.net/', 'api://X/y/.default', 'ABC'])
      expect(canonicalScope(canonicalScope(v))).toBe(canonicalScope(v));
  });

  it('refuses user information and an empty host', () => {
    expect(scopeProblem('https://vault.azure.net@evil.example/.default', 'scope')).toMatch(
      /without user information/,
    );
    expect(scopeProblem('https:///.default', 'scope')).toMatch(/without user information|no resource/);
  });
});
