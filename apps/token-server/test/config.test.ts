import type { ConfigError } from '@auth-sidecars/service-kit';
import { loadTokenServerConfig } from '../src/config.js';

const SECRET = 'seed-secret-0123456789abcdef';

describe('loadTokenServerConfig', () => {
  it('defaults: loopback bind, port 8080, every scope for the seed secret, 5-minute minimum validity', () => {
    const c = loadTokenServerConfig({ AZD_AUTH_SECRET: SECRET });
    expect(c.host).toBe('127.0.0.1');
    expect(c.port).toBe(8080);
    expect(c.allowedScopes).toEqual(['*']);
    expect(c.minValiditySeconds).toBe(300);
    expect(c.maxScopes).toBe(100);
    expect(c.warmScopes).toEqual([]);
    expect(Object.isFrozen(c)).toBe(true);
    expect(Object.isFrozen(c.allowedScopes)).toBe(true);
    expect(c.selfLoopVariables).toEqual([]);
  });

  it('parses lists and the standard AZURE_* variables', () => {
    const c = loadTokenServerConfig({
      TOKEN_SERVER_CLIENTS_FILE: '/etc/clients.json',
      TOKEN_SERVER_ALLOWED_SCOPES: 'https://vault.azure.net, https://storage.azure.com/.default',
      TOKEN_SERVER_WARM_SCOPES: 'https://vault.azure.net/.default',
      AZURE_CLIENT_ID: 'abc',
      HOST: '0.0.0.0',
    });
    expect(c.allowedScopes).toEqual(['https://vault.azure.net', 'https://storage.azure.com/.default']);
    expect(c.warmScopes).toEqual(['https://vault.azure.net/.default']);
    expect(c.credential).toMatchObject({ kind: 'default', clientId: 'abc' });
    expect(c.host).toBe('0.0.0.0');
  });

  it('names the self-loop variables set in its own environment', () => {
    const c = loadTokenServerConfig({
      AZD_AUTH_SECRET: SECRET,
      IDENTITY_ENDPOINT: 'http://x',
      IDENTITY_HEADER: ' ',
    });
    expect(c.selfLoopVariables).toEqual(['IDENTITY_ENDPOINT']);
  });

  it('reports schema, cross-variable and credential problems together', () => {
    let issues: string[] = [];
    try {
      loadTokenServerConfig({
        PORT: 'x',
        TLS_KEY_FILE: '/k.pem',
        TOKEN_SERVER_WARM_SCOPES: 'a\u00e9',
        AZURE_CLIENT_SECRET: 'x',
      });
    } catch (err) {
      issues = (err as ConfigError).issues;
    }
    expect(issues.join('\n')).toMatch(/PORT/);
    expect(issues.join('\n')).toMatch(/TLS_CERT_FILE and TLS_KEY_FILE go together/);
    expect(issues.join('\n')).toMatch(/no client configured/);
    expect(issues.join('\n')).toMatch(/TOKEN_SERVER_WARM_SCOPES/);
    expect(issues.join('\n')).toMatch(/AZURE_TENANT_ID: required for AZURE_CREDENTIAL_KIND=client-secret/);
  });

  it('reads the old TLS_CERT_PATH/TLS_KEY_PATH with a deprecation warning; the new names win', () => {
    const old = loadTokenServerConfig({
      AZD_AUTH_SECRET: 's',
      TLS_CERT_PATH: '/c.pem',
      TLS_KEY_PATH: '/k.pem',
    });
    expect([old.tlsCertFile, old.tlsKeyFile]).toEqual(['/c.pem', '/k.pem']);
    expect(old.warnings).toEqual([
      'TLS_CERT_PATH is deprecated: set TLS_CERT_FILE instead (TLS_CERT_PATH is read for now)',
      'TLS_KEY_PATH is deprecated: set TLS_KEY_FILE instead (TLS_KEY_PATH is read for now)',
    ]);
    const both = loadTokenServerConfig({
      AZD_AUTH_SECRET: 's',
      TLS_CERT_FILE: '/new.pem',
      TLS_KEY_FILE: '/new.key',
      TLS_CERT_PATH: '/old.pem',
    });
    expect(both.tlsCertFile).toBe('/new.pem');
    expect(both.warnings).toEqual(['TLS_CERT_PATH is deprecated and ignored: TLS_CERT_FILE is set']);
    expect(loadTokenServerConfig({ AZD_AUTH_SECRET: 's' }).warnings).toEqual([]);
  });
});
