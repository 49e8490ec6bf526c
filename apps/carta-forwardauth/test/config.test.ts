import { ConfigError } from '@auth-sidecars/service-kit';
import { readConfig } from '../src/config.js';
import { sourceSpecs } from '../src/service.js';

describe('config', () => {
  it('has the seed defaults', () => {
    const c = readConfig({});
    expect(c).toMatchObject({
      targetNamespace: 'skaha-workload',
      port: 8000,
      responseHeader: 'carta-auth-token',
      sessionIdLabels: ['canfar.net/id', 'canfar-net-sessionID'],
      userIdLabels: ['canfar.net/username', 'canfar-net-userid'],
      lookupServices: true,
      probePort: 8001,
      sessionPathPrefixes: ['/'],
      refererFallback: false,
      refererAssetPrefixes: [],
      resyncIntervalMs: 300_000,
      shutdownTimeoutMs: 10_000,
    });
    expect(Object.isFrozen(c)).toBe(true);
    expect(Object.isFrozen(c.sessionIdLabels)).toBe(true);
    expect(Object.keys(c).every((k) => /^[a-z][A-Za-z]*$/.test(k))).toBe(true);
    expect(sourceSpecs(c).map((s) => `${s.kind}:${s.idLabel}`)).toEqual([
      'pods:canfar.net/id',
      'pods:canfar-net-sessionID',
      'services:canfar.net/id',
      'services:canfar-net-sessionID',
    ]);
  });

  it('reads label keys, durations and flags', () => {
    const c = readConfig({
      SESSION_ID_LABELS: 'a/id',
      USER_ID_LABELS: 'a/user',
      LOOKUP_SERVICES: 'false',
      RESYNC_INTERVAL: '2m',
      RESPONSE_HEADER: 'X-User',
    });
    expect(sourceSpecs(c)).toEqual([{ kind: 'pods', idLabel: 'a/id', userLabel: 'a/user' }]);
    expect(c.resyncIntervalMs).toBe(120_000);
    expect(c.responseHeader).toBe('x-user');
  });

  it('reports every bad variable at once', () => {
    let error: unknown;
    try {
      readConfig({
        TARGET_NAMESPACE: 'Not_A_Namespace',
        PORT: 'x',
        SESSION_ID_LABELS: 'a,b',
        USER_ID_LABELS: 'c',
        RESPONSE_HEADER: 'bad header',
      });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const text = (error as ConfigError).issues.join('\n');
    expect(text).toMatch(/TARGET_NAMESPACE/);
    expect(text).toMatch(/PORT/);
    expect(text).toMatch(/RESPONSE_HEADER/);
  });

  it('insists on paired label keys', () => {
    expect(() => readConfig({ SESSION_ID_LABELS: 'a,b', USER_ID_LABELS: 'c' })).toThrow(
      /same number of keys/,
    );
  });

  it('reads the probe port, session path prefixes and the Referer fallback', () => {
    const c = readConfig({
      PROBE_PORT: '9100',
      SESSION_PATH_PREFIXES: '/, /skaha ,/a/b-c',
      REFERER_FALLBACK: 'yes',
      REFERER_ASSET_PREFIXES: '/static/,/favicon.ico',
    });
    expect(c).toMatchObject({
      probePort: 9100,
      sessionPathPrefixes: ['/', '/skaha', '/a/b-c'],
      refererFallback: true,
      refererAssetPrefixes: ['/static/', '/favicon.ico'],
    });
    expect(readConfig({ PROBE_PORT: 'OFF', AUTH_PATH_PREFIX: '/authz' }).probePort).toBe('off');
  });

  it.each([
    [{ PROBE_PORT: 'x' }, /PROBE_PORT: expected a port number \(0-65535\) or off/],
    [{ PROBE_PORT: '70000' }, /PROBE_PORT/],
    [{ PROBE_PORT: '8000' }, /PROBE_PORT: must differ from PORT/],
    [{ PROBE_PORT: 'off' }, /PROBE_PORT: off serves .* set AUTH_PATH_PREFIX/],
    [{ SESSION_PATH_PREFIXES: '/skaha/' }, /SESSION_PATH_PREFIXES/],
    [{ SESSION_PATH_PREFIXES: 'skaha' }, /SESSION_PATH_PREFIXES/],
    [{ SESSION_PATH_PREFIXES: '/a/../b' }, /SESSION_PATH_PREFIXES/],
    [{ SESSION_PATH_PREFIXES: ',' }, /SESSION_PATH_PREFIXES/],
    [{ REFERER_FALLBACK: 'maybe' }, /REFERER_FALLBACK/],
    [{ REFERER_FALLBACK: 'true' }, /REFERER_ASSET_PREFIXES: REFERER_FALLBACK=true needs/],
    [{ REFERER_FALLBACK: 'true', REFERER_ASSET_PREFIXES: '/' }, /REFERER_ASSET_PREFIXES/],
    [{ REFERER_FALLBACK: 'true', REFERER_ASSET_PREFIXES: '/static/../admin/' }, /REFERER_ASSET_PREFIXES/],
    [{ REFERER_FALLBACK: 'true', REFERER_ASSET_PREFIXES: 'static/' }, /REFERER_ASSET_PREFIXES/],
  ])('refuses %o', (env, message) => {
    expect(() => readConfig(env)).toThrow(ConfigError);
    expect(() => readConfig(env)).toThrow(message);
  });
});
