import { ConfigError } from '@auth-sidecars/service-kit';
import { loadBrokerConfig } from '../src/config.js';

const base = {
  AZURE_CLIENT_ID: 'client',
  AZURE_TENANT_ID: 'tenant',
  AZURE_FEDERATED_TOKEN_FILE: '/var/run/secrets/azure/tokens/azure-identity-token',
  PUBLIC_URL: 'https://broker.example.com/',
  SESSION_SECRET: 'x'.repeat(32),
  KUBERNETES_SERVICE_HOST: '10.0.0.1',
};

describe('config', () => {
  it('applies in-cluster defaults: AKS scope, API server from the service env, __Host- cookie', () => {
    const config = loadBrokerConfig(base);
    expect(config.entra).toMatchObject({
      authorityHost: 'https://login.microsoftonline.com',
      aksScope: '6dae42f8-4368-4678-94ff-3960e28e3630/.default',
    });
    expect(config.kube).toMatchObject({
      apiUrl: 'https://10.0.0.1:443',
      caFile: '/var/run/secrets/kubernetes.io/serviceaccount/ca.crt',
    });
    expect(config.redirectUri).toBe('https://broker.example.com/callback');
    expect(config.session).toMatchObject({
      cookieSecure: true,
      cookieName: '__Host-aks-broker',
      ttlMs: 8 * 3600_000,
    });
    expect(config.redis).toBeUndefined();
    expect(Object.isFrozen(config)).toBe(true);
  });

  it('reports every problem at once', () => {
    let error: unknown;
    try {
      loadBrokerConfig({
        SESSION_SECRET: 'short',
        REDIS_URL: 'redis://127.0.0.1:6379',
        TLS_KEY_FILE: '/k.pem',
      });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const issues = (error as ConfigError).issues.join('\n');
    for (const name of [
      'AZURE_CLIENT_ID',
      'AZURE_TENANT_ID',
      'AZURE_FEDERATED_TOKEN_FILE',
      'PUBLIC_URL',
      'SESSION_SECRET',
      'CACHE_ENCRYPTION_KEY',
      'KUBE_API_URL',
    ])
      expect(issues).toContain(name);
    expect(issues).toContain('TLS_CERT_FILE: TLS_CERT_FILE and TLS_KEY_FILE go together');
  });

  it('needs an encryption key with Redis, and an API server', () => {
    const run = (env: Record<string, string | undefined>) => {
      try {
        loadBrokerConfig(env);
        return [];
      } catch (e) {
        return (e as ConfigError).issues;
      }
    };
    expect(run({ ...base, REDIS_URL: 'redis://127.0.0.1:6379' }).join()).toContain('CACHE_ENCRYPTION_KEY');
    expect(
      run({ ...base, REDIS_URL: 'redis://127.0.0.1:6379', CACHE_ENCRYPTION_KEY: 'dG9vLXNob3J0' }).join(),
    ).toContain('32 bytes');
    expect(run({ ...base, KUBERNETES_SERVICE_HOST: undefined }).join()).toContain('KUBE_API_URL');
    expect(run({ ...base, TLS_CERT_FILE: '/tls.crt' }).join()).toContain('TLS_KEY_FILE');
    expect(run({ ...base, KUBE_ALLOW_SUBRESOURCES: 'proxy,log' }).join()).toMatch(
      /KUBE_ALLOW_SUBRESOURCES.*proxy, exec, attach, portforward/,
    );
    expect(run({ ...base, KUBE_MAX_STREAMS_PER_USER: '0' }).join()).toContain('KUBE_MAX_STREAMS_PER_USER');
  });

  it('has deadlines for the identity provider (10 s) and Redis (2 s), fractions allowed', () => {
    expect(loadBrokerConfig(base).entra.timeoutMs).toBe(10_000);
    const config = loadBrokerConfig({
      ...base,
      ENTRA_TIMEOUT_SECONDS: '2.5',
      REDIS_URL: 'redis://redis:6379',
      CACHE_ENCRYPTION_KEY: 'ab'.repeat(32),
      REDIS_TIMEOUT_SECONDS: '0.5',
    });
    expect(config.entra.timeoutMs).toBe(2_500);
    expect(config.redis?.timeoutMs).toBe(500);
  });

  it('refuses the risky subresources and caps streams at 20 per user unless told otherwise', () => {
    expect(loadBrokerConfig(base).kube).toMatchObject({
      allowedSubresources: [],
      maxStreamsPerUser: 20,
      maxCallsPerUser: 50,
    });
    expect(
      loadBrokerConfig({ ...base, KUBE_ALLOW_SUBRESOURCES: ' proxy , exec', KUBE_MAX_STREAMS_PER_USER: '5' })
        .kube,
    ).toMatchObject({ allowedSubresources: ['proxy', 'exec'], maxStreamsPerUser: 5 });
  });

  it('takes a hex or base64 key, several session secrets, an explicit API URL and plain-http cookies', () => {
    const config = loadBrokerConfig({
      ...base,
      REDIS_URL: 'redis://:pw@redis:6379/0',
      CACHE_ENCRYPTION_KEY: 'ab'.repeat(32),
      SESSION_SECRET: `${'n'.repeat(32)}, ${'o'.repeat(32)}`,
      KUBE_API_URL: 'https://127.0.0.1:6443/',
      COOKIE_SECURE: 'false',
      AKS_SCOPE: 'custom/.default',
    });
    expect(Buffer.from(config.cacheEncryptionKey!, 'base64')).toEqual(Buffer.alloc(32, 0xab));
    expect(config.session.secrets).toEqual(['n'.repeat(32), 'o'.repeat(32)]);
    expect(config.kube.apiUrl).toBe('https://127.0.0.1:6443');
    expect(config.session.cookieName).toBe('aks-broker');
    expect(config.entra.aksScope).toBe('custom/.default');
  });
});
