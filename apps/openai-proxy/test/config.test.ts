import { ConfigError } from '@auth-sidecars/service-kit';
import { loadOpenAiProxyConfig } from '../src/config.js';

const seedEnv = {
  AZURE_CLIENT_ID: '11111111-1111-1111-1111-111111111111',
  AZURE_TENANT_ID: '22222222-2222-2222-2222-222222222222',
  AZURE_CERTIFICATE_PATH: '/app/certs/cert.pem',
  API_BASE_URL: 'https://myservice.openai.azure.com',
};

describe('loadOpenAiProxyConfig', () => {
  it('accepts the seed variables with the seed defaults', () => {
    const config = loadOpenAiProxyConfig(seedEnv);
    expect(config).toMatchObject({
      apiBaseUrl: 'https://myservice.openai.azure.com',
      host: '0.0.0.0',
      port: 8080,
      scope: 'https://cognitiveservices.azure.com/.default',
      startWithoutToken: false,
      timeouts: { connectMs: 5000, firstByteMs: 300_000, idleMs: 300_000 },
      clientHeadersTimeoutMs: 12_000,
      clientMaxConnections: 1024,
    });
    expect(config.credential).toMatchObject({
      kind: 'certificate',
      clientId: seedEnv.AZURE_CLIENT_ID,
      tenantId: seedEnv.AZURE_TENANT_ID,
      certificatePath: '/app/certs/cert.pem',
    });
    expect(Object.isFrozen(config)).toBe(true);
  });

  it('takes HOST, PORT, AZURE_SCOPE and durations with units', () => {
    const config = loadOpenAiProxyConfig({
      ...seedEnv,
      HOST: '127.0.0.1',
      PORT: '9000',
      AZURE_SCOPE: 'https://cognitiveservices.azure.us/.default',
      UPSTREAM_RESPONSE_TIMEOUT: '90s',
      START_WITHOUT_TOKEN: 'true',
    });
    expect(config).toMatchObject({
      host: '127.0.0.1',
      port: 9000,
      scope: 'https://cognitiveservices.azure.us/.default',
      startWithoutToken: true,
    });
    expect(config.timeouts.firstByteMs).toBe(90_000);
  });

  it('takes the client-side limits; a headers timeout outside 1s-300s is refused', () => {
    const config = loadOpenAiProxyConfig({
      ...seedEnv,
      CLIENT_HEADERS_TIMEOUT: '15s',
      CLIENT_MAX_CONNECTIONS: '64',
    });
    expect(config).toMatchObject({ clientHeadersTimeoutMs: 15_000, clientMaxConnections: 64 });
    for (const bad of ['500ms', '10m'])
      expect(() => loadOpenAiProxyConfig({ ...seedEnv, CLIENT_HEADERS_TIMEOUT: bad })).toThrow(
        /CLIENT_HEADERS_TIMEOUT/,
      );
  });

  it('reports every bad or missing variable at once', () => {
    let error: unknown;
    try {
      loadOpenAiProxyConfig({ PORT: 'eighty', AZURE_CREDENTIAL_KIND: 'certificate' });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const text = (error as ConfigError).issues.join('\n');
    expect(text).toMatch(/API_BASE_URL/);
    expect(text).toMatch(/PORT/);
    expect(text).toMatch(/AZURE_TENANT_ID|AZURE_CLIENT_ID|CERTIFICATE/);
  });

  it('expects the certificate credential: a missing AZURE_CERTIFICATE_PATH is an error naming what to set', () => {
    const { AZURE_CERTIFICATE_PATH: _omitted, ...noCertificate } = seedEnv;
    let error: unknown;
    try {
      loadOpenAiProxyConfig(noCertificate);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).issues).toEqual([
      expect.stringMatching(
        /^AZURE_CERTIFICATE_PATH: required \(the path of the PEM file with the certificate and its private key\).*AZURE_CREDENTIAL_KIND/,
      ),
    ]);
    // A client secret alone does not switch credentials behind the user's back.
    expect(() => loadOpenAiProxyConfig({ ...noCertificate, AZURE_CLIENT_SECRET: 's' })).toThrow(
      /AZURE_CERTIFICATE_PATH: required/,
    );
    // Every seed variable missing is named, with the app's own problems, in one error.
    try {
      loadOpenAiProxyConfig({ PORT: 'x' });
    } catch (err) {
      error = err;
    }
    const text = (error as ConfigError).issues.join('\n');
    for (const name of [
      'API_BASE_URL',
      'PORT',
      'AZURE_CLIENT_ID',
      'AZURE_TENANT_ID',
      'AZURE_CERTIFICATE_PATH',
    ])
      expect(text).toContain(`${name}:`);
  });

  it('accepts AZURE_CLIENT_CERTIFICATE_PATH for the certificate', () => {
    const { AZURE_CERTIFICATE_PATH: _omitted, ...rest } = seedEnv;
    const config = loadOpenAiProxyConfig({ ...rest, AZURE_CLIENT_CERTIFICATE_PATH: '/c.pem' });
    expect(config.credential).toMatchObject({ kind: 'certificate', certificatePath: '/c.pem' });
  });

  it('uses another credential kind only when AZURE_CREDENTIAL_KIND asks for it', () => {
    const base = { API_BASE_URL: seedEnv.API_BASE_URL };
    expect(loadOpenAiProxyConfig({ ...base, AZURE_CREDENTIAL_KIND: 'default' }).credential.kind).toBe(
      'default',
    );
    expect(
      loadOpenAiProxyConfig({
        ...base,
        AZURE_CREDENTIAL_KIND: 'workload-identity',
        AZURE_CLIENT_ID: seedEnv.AZURE_CLIENT_ID,
        AZURE_TENANT_ID: seedEnv.AZURE_TENANT_ID,
        AZURE_FEDERATED_TOKEN_FILE: '/var/run/secrets/token',
      }).credential,
    ).toMatchObject({ kind: 'workload-identity', federatedTokenFile: '/var/run/secrets/token' });
    expect(
      loadOpenAiProxyConfig({
        ...base,
        AZURE_CREDENTIAL_KIND: 'client-secret',
        AZURE_CLIENT_ID: seedEnv.AZURE_CLIENT_ID,
        AZURE_TENANT_ID: seedEnv.AZURE_TENANT_ID,
        AZURE_CLIENT_SECRET: 's',
      }).credential.kind,
    ).toBe('client-secret');
  });
});
