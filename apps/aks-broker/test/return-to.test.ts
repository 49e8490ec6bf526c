import { safeReturnTo } from '../src/return-to.js';

describe('safeReturnTo', () => {
  it.each([
    '/',
    '/pods',
    '/pods?ns=team-a',
    '/a/b#frag',
    '/k8sx',
    '/apis-docs',
    '/%7Euser',
    '/x/%2F%2Fevil.example',
  ])('accepts %s', (path) => {
    expect(safeReturnTo(path)).toBe(path);
  });

  it.each([
    ['/a/../b', '/b'],
    ['/./pods?ns=a', '/pods?ns=a'],
    ['/..', '/'],
    ['/.?//evil.example', '/?//evil.example'], // a query on our own page
  ])('normalises %s to %s', (value, location) => {
    expect(safeReturnTo(value)).toBe(location);
  });

  it.each([
    '//evil.example',
    '//evil.example/path',
    '/\\evil.example',
    '\\\\evil.example',
    '/\\/evil.example',
    'https://evil.example',
    'http://evil.example/x',
    'HTTPS://evil.example',
    'javascript:alert(1)',
    'data:text/html,x',
    'evil.example',
    '/%2F%2Fevil.example',
    '/%2fevil.example',
    '%2F%2Fevil.example',
    '/%5Cevil.example',
    '/%5cevil.example',
    '/%252F%252Fevil.example',
    '/%09/evil.example',
    '/\t/evil.example',
    '/\n/evil.example',
    ' /evil',
    '/ /evil',
    '/%',
    '',
    '///evil.example',
    `/${'a'.repeat(1100)}`,
    // Dot segments that normalise into a protocol-relative URL (the attack review's finds).
    '/.//evil.example',
    '/a/../..//evil.example',
    '/%2e%2e//evil.example',
    '/%2E//evil.example',
    '/a/%2e%2e//evil.example',
    '/./%2e/.//evil.example',
    '/.%2e//evil.example',
    '/./\\evil.example',
    '/%2e/%2fevil.example',
    '/./%5Cevil.example',
    '/.//%09evil.example',
    // The API is no page to return to (a sign-in link would end in a GET acting as the user).
    '/k8s/api/v1/namespaces/x/pods?watch=1',
    '/k8s',
    '/K8S/api/v1/namespaces/x/pods/y/proxy/admin',
    '/%6B8s/api/v1/namespaces/x/pods',
    '/x/../k8s/api',
    '/api/me',
    '/Api?x',
  ])('rejects %j', (value) => {
    expect(safeReturnTo(value)).toBeUndefined();
  });

  it('rejects non-strings', () => {
    expect(safeReturnTo(undefined)).toBeUndefined();
    expect(safeReturnTo(['/a', '//evil'])).toBeUndefined();
    expect(safeReturnTo({})).toBeUndefined();
  });
});
