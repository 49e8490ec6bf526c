import type { ConfigError } from '@auth-sidecars/service-kit';
import { loadTokenServerConfig } from '../src/config.js';

const SECRET = 'seed-secret-0123456789abcdef';

describe('loadTokenServerConfig', () => {
  it('defaults: loopback bind, port 8080, every scope for the seed secret, 5-minute minimum validity', () => {
    const c = loadTokenServerConfig({ AZD_AUTH_SECRET: SECRET });
    expect(c.HOST).toBe('127.0.0.1');
    expect(c.PORT).toBe(8080);
    expect(c.TOKEN_SERVER_ALLOWED_SCOPES).toEqual(['*']);
    expect(c.TOKEN_SERVER_MIN_VALIDITY_SECONDS).toBe(300);
    expect(c.TOKEN_SERVER_MAX_SCOPES).toBe(100);
    expect(c.TOKEN_SERVER_WARM_SCOPES).toEqual([]);
    expect(Object.isFrozen(c)).toBe(true);
  });

  it('parses lists and the standard AZURE_* variables', () => {
    const c = loadTokenServerConfig({
      TOKEN_SERVER_CLIENTS_FILE: '/etc/clients.json',
      TOKEN_SERVER_ALLOWED_SCOPES: 'https://vault.azure.net, https://storage.azure.com/.default',
      TOKEN_SERVER_WARM_SCOPES: 'https://vault.azure.net/.default',
      AZURE_CLIENT_ID: 'abc',
      HOST: '0.0.0.0',
    });
    expect(c.TOKEN_SERVER_ALLOWED_SCOPES).toEqual([
      'https://vault.azure.net',
      'https://storage.azure.com/.default',
    ]);
    expect(c.TOKEN_SERVER_WARM_SCOPES).toEqual(['https://vault.azure.net/.default']);
    expect(c.AZURE_CLIENT_ID).toBe('abc');
    expect(c.HOST).toBe('0.0.0.0');
  });

  it('reports schema and cross-variable problems together', () => {
    let issues: string[] = [];
    try {
      loadTokenServerConfig({ PORT: 'x', TLS_KEY_FILE: '/k.pem', TOKEN_SERVER_WARM_SCOPES: 'a\u00e9' });
    } catch (err) {
      issues = (err as ConfigError).issues;
    }
    expect(issues.join('\n')).toMatch(/PORT/);
    expect(issues.join('\n')).toMatch(/TLS_CERT_FILE and TLS_KEY_FILE go together/);
    expect(issues.join('\n')).toMatch(/no client configured/);
    expect(issues.join('\n')).toMatch(/TOKEN_SERVER_WARM_SCOPES/);
  });

  it('reads the old TLS_CERT_PATH/TLS_KEY_PATH with a deprecation warning; the new names win', () => {
    const old = loadTokenServerConfig({
      AZD_AUTH_SECRET: 's',
      TLS_CERT_PATH: '/c.pem',
      TLS_KEY_PATH: '/k.pem',
    });
    expect([old.TLS_CERT_FILE, old.TLS_KEY_FILE]).toEqual(['/c.pem', '/k.pem']);
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
    expect(both.TLS_CERT_FILE).toBe('/new.pem');
    expect(both.warnings).toEqual(['TLS_CERT_PATH is deprecated and ignored: TLS_CERT_FILE is set']);
    expect(loadTokenServerConfig({ AZD_AUTH_SECRET: 's' }).warnings).toEqual([]);
  });
});
