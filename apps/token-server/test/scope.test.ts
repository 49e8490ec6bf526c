import { resourceToScope, scopeProblem, scopeToResource } from '../src/scope.js';

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
