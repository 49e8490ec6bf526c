import { ConfigError } from '@auth-sidecars/service-kit';
import { applyAliases, loadPromSidecarConfig, unusedVariableWarnings } from '../src/config.js';

const base = {
  PROMETHEUS_QUERY_ENDPOINT: 'https://ws-abc.eastus.prometheus.monitor.azure.com',
  AZURE_CLIENT_ID: '11111111-1111-1111-1111-111111111111',
  AZURE_TENANT_ID: '22222222-2222-2222-2222-222222222222',
  AZURE_CLIENT_CERTIFICATE_PATH: '/certs/cert.pem',
};

describe('loadPromSidecarConfig', () => {
  it('reads the primary names with the seed defaults', () => {
    const config = loadPromSidecarConfig(base);
    expect(config).toMatchObject({
      queryEndpoint: base.PROMETHEUS_QUERY_ENDPOINT,
      scope: 'https://prometheus.monitor.azure.com/.default',
      host: '0.0.0.0',
      port: 8080,
      startWithoutToken: false,
      timeouts: { connectMs: 5000, firstByteMs: 120_000, idleMs: 120_000 },
    });
    expect(config.credential).toMatchObject({
      kind: 'certificate',
      clientId: base.AZURE_CLIENT_ID,
      certificatePath: '/certs/cert.pem',
    });
  });

  it('falls back to DefaultAzureCredential when no credential variables are set', () => {
    const config = loadPromSidecarConfig({ PROMETHEUS_QUERY_ENDPOINT: base.PROMETHEUS_QUERY_ENDPOINT });
    expect(config.credential.kind).toBe('default');
  });

  it('accepts a sovereign-cloud scope', () => {
    const config = loadPromSidecarConfig({
      ...base,
      AZURE_SCOPE: 'https://prometheus.monitor.azure.us/.default',
    });
    expect(config.scope).toBe('https://prometheus.monitor.azure.us/.default');
  });

  it('accepts the aad-auth-proxy variable names', () => {
    const config = loadPromSidecarConfig({
      TARGET_HOST: 'ws-abc.eastus.prometheus.monitor.azure.com',
      AUDIENCE: 'https://prometheus.monitor.azure.com/.default',
      LISTENING_PORT: '8081',
      IDENTITY_TYPE: 'aadApplication',
      AAD_CLIENT_ID: base.AZURE_CLIENT_ID,
      AAD_TENANT_ID: base.AZURE_TENANT_ID,
      AAD_CLIENT_CERTIFICATE_PATH: '/mnt/secrets/cert.pem',
    });
    expect(config).toMatchObject({
      queryEndpoint: 'https://ws-abc.eastus.prometheus.monitor.azure.com',
      scope: 'https://prometheus.monitor.azure.com/.default',
      port: 8081,
    });
    expect(config.credential).toMatchObject({
      kind: 'certificate',
      clientId: base.AZURE_CLIENT_ID,
      tenantId: base.AZURE_TENANT_ID,
      certificatePath: '/mnt/secrets/cert.pem',
    });
  });

  it('maps IDENTITY_TYPE to managed identities, dropping the client id for system-assigned', () => {
    const user = loadPromSidecarConfig({
      TARGET_HOST: 'https://x',
      IDENTITY_TYPE: 'userAssigned',
      AAD_CLIENT_ID: 'abc',
    });
    expect(user.credential).toMatchObject({ kind: 'managed-identity', clientId: 'abc' });
    const system = loadPromSidecarConfig({
      TARGET_HOST: 'https://x',
      IDENTITY_TYPE: 'systemAssigned',
      AAD_CLIENT_ID: 'abc',
    });
    expect(system.credential.kind).toBe('managed-identity');
    expect(system.credential.clientId).toBeUndefined();
  });

  it('lets the primary name win over its alias and turns a bare AUDIENCE into a scope', () => {
    const { env } = applyAliases({
      PORT: '9000',
      LISTENING_PORT: '8081',
      AUDIENCE: 'https://prometheus.monitor.azure.cn',
    });
    expect(env.PORT).toBe('9000');
    expect(env.AZURE_SCOPE).toBe('https://prometheus.monitor.azure.cn/.default');
  });

  it('reports every problem at once, alias problems included', () => {
    let error: unknown;
    try {
      loadPromSidecarConfig({ IDENTITY_TYPE: 'robot', PORT: '-1' });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const text = (error as ConfigError).issues.join('\n');
    expect(text).toMatch(/IDENTITY_TYPE/);
    expect(text).toMatch(/PROMETHEUS_QUERY_ENDPOINT/);
    expect(text).toMatch(/PORT/);
  });

  it('maps AAD_TOKEN_REFRESH_INTERVAL_IN_PERCENTAGE onto the refresh fraction (P% of the lifetime left)', () => {
    expect(loadPromSidecarConfig(base).refreshFraction).toBeUndefined();
    expect(
      loadPromSidecarConfig({ ...base, AAD_TOKEN_REFRESH_INTERVAL_IN_PERCENTAGE: '10' }).refreshFraction,
    ).toBeCloseTo(0.9);
    expect(
      loadPromSidecarConfig({ ...base, AAD_TOKEN_REFRESH_INTERVAL_IN_PERCENTAGE: '75' }).refreshFraction,
    ).toBeCloseTo(0.25);
    for (const bad of ['0', '100', '12.5', 'ten']) {
      expect(() => loadPromSidecarConfig({ ...base, AAD_TOKEN_REFRESH_INTERVAL_IN_PERCENTAGE: bad })).toThrow(
        /AAD_TOKEN_REFRESH_INTERVAL_IN_PERCENTAGE: expected a whole number from 1 to 99/,
      );
    }
  });

  it('names unused AAD_*, OTEL_* and aad-auth-proxy variables in one warning', () => {
    const config = loadPromSidecarConfig({
      ...base,
      AAD_CLIENT_ID: base.AZURE_CLIENT_ID,
      AAD_TOKEN_REFRESH_INTERVAL_IN_PERCENTAGE: '10',
      AAD_CLIENTID: 'typo',
      AAD_TOKEN_REFRESH_INTERVAL_IN_MINUTES: '30',
      OTEL_GRPC_ENDPOINT: 'otel:4317',
      OTEL_SERVICE_NAME: 'proxy',
      OVERRIDE_REQUEST_HEADERS: '{"x":"y"}',
      OTEL_EMPTY: '',
      PATH: '/usr/bin',
    });
    expect(config.warnings).toHaveLength(1);
    const [warning] = config.warnings;
    expect(warning).toMatch(
      /AAD_CLIENTID, AAD_TOKEN_REFRESH_INTERVAL_IN_MINUTES, OTEL_GRPC_ENDPOINT, OTEL_SERVICE_NAME, OVERRIDE_REQUEST_HEADERS/,
    );
    expect(warning).toMatch(/\/metrics/);
    const named = warning!.slice(0, warning!.indexOf(' ('));
    expect(named).not.toMatch(/OTEL_EMPTY|\bPATH\b|AAD_CLIENT_ID\b|AAD_TOKEN_REFRESH_INTERVAL_IN_PERCENTAGE/);
    expect(unusedVariableWarnings({ AAD_CLIENT_ID: 'x', AAD_TENANT_ID: 'y', HOME: '/' })).toEqual([]);
    expect(Object.isFrozen(config.warnings)).toBe(true);
  });

  it('takes ALLOW_STATUS_CONFIG and ALLOW_PATH_PREFIXES, refusing prefixes that could escape', () => {
    expect(loadPromSidecarConfig(base)).toMatchObject({ allowStatusConfig: false, allowPathPrefixes: [] });
    expect(
      loadPromSidecarConfig({
        ...base,
        ALLOW_STATUS_CONFIG: 'yes',
        ALLOW_PATH_PREFIXES: ' /api/v1/write , ,/dataCollectionRules/',
      }),
    ).toMatchObject({
      allowStatusConfig: true,
      allowPathPrefixes: ['/api/v1/write', '/dataCollectionRules/'],
    });
    for (const bad of ['api/v1/write', '/a/../b', '/a/%2e%2e', '/a?x=1', '/a\\b', '/a/.']) {
      expect(() => loadPromSidecarConfig({ ...base, ALLOW_PATH_PREFIXES: bad })).toThrow(
        /ALLOW_PATH_PREFIXES/,
      );
    }
    expect(() => loadPromSidecarConfig({ ...base, ALLOW_STATUS_CONFIG: 'maybe' })).toThrow(
      /ALLOW_STATUS_CONFIG/,
    );
  });
});
