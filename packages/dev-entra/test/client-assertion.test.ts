// Client assertion validation with hand-made JWTs: signature, thumbprint headers, aud, iss/sub, exp.
import { randomUUID } from 'node:crypto';
import { importPKCS8, SignJWT, type JWTHeaderParameters } from 'jose';
import { startDevEntra, type ClientCertificate, type DevEntra, type RegisteredApp } from '../src/index.js';

let entra: DevEntra;
let cert: ClientCertificate;
let stranger: ClientCertificate;
let app: RegisteredApp;

beforeAll(async () => {
  entra = await startDevEntra({ trust: true });
  [cert, stranger] = await Promise.all([entra.createClientCertificate(), entra.createClientCertificate()]);
  app = entra.registerApp({ certificatePem: cert.certPem });
});

afterAll(async () => {
  await entra.close();
});

async function assertion(
  options: {
    key?: string;
    header?: Partial<JWTHeaderParameters>;
    aud?: string;
    iss?: string;
    sub?: string;
    exp?: number;
    alg?: string;
  } = {},
): Promise<string> {
  const alg = options.alg ?? 'RS256';
  const key = await importPKCS8(options.key ?? cert.keyPem, alg);
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ jti: randomUUID() })
    .setProtectedHeader({ alg, typ: 'JWT', ...(options.header ?? { x5t: cert.x5t }) })
    .setAudience(options.aud ?? entra.tokenEndpoint)
    .setIssuer(options.iss ?? app.clientId)
    .setSubject(options.sub ?? app.clientId)
    .setNotBefore(now - 5)
    .setIssuedAt(now - 5)
    .setExpirationTime(options.exp ?? now + 600)
    .sign(key);
}

async function redeem(jwt: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(entra.tokenEndpoint, {
    method: 'POST',
    body: new URLSearchParams({
      grant_type: 'client_credentials',
      client_id: app.clientId,
      scope: 'api://assert/.default',
      client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
      client_assertion: jwt,
    }),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

describe('client assertions', () => {
  it.each([
    ['x5t (SHA-1), RS256', () => assertion()],
    ['x5t#S256, PS256', () => assertion({ alg: 'PS256', header: { 'x5t#S256': cert.x5tS256 } })],
    ['x5c only', () => assertion({ header: { x5c: [cert.certPem.replace(/-----[^-]+-----|\s/g, '')] } })],
  ])('accepts a valid assertion identified by %s', async (_name, make) => {
    const { status, body } = await redeem(await make());
    expect(status).toBe(200);
    expect(body).toMatchObject({ token_type: 'Bearer', access_token: expect.any(String) });
  });

  it.each([
    [
      'an unknown thumbprint',
      () => assertion({ key: stranger.keyPem, header: { x5t: stranger.x5t } }),
      700027,
    ],
    ['a registered thumbprint signed by another key', () => assertion({ key: stranger.keyPem }), 700027],
    [
      'an x5c that does not match x5t',
      () =>
        assertion({ header: { x5t: cert.x5t, x5c: [stranger.certPem.replace(/-----[^-]+-----|\s/g, '')] } }),
      700027,
    ],
    ['no thumbprint header', () => assertion({ header: {} }), 50027],
    ['a foreign audience', () => assertion({ aud: 'https://login.example.com/token' }), 700023],
    ['iss/sub not the client id', () => assertion({ iss: 'someone-else', sub: 'someone-else' }), 700023],
    ['an expired assertion', () => assertion({ exp: Math.floor(Date.now() / 1000) - 3600 }), 700024],
  ])('refuses %s', async (_name, make, code) => {
    const { status, body } = await redeem(await make());
    expect(status).toBe(401);
    expect(body).toMatchObject({ error: 'invalid_client', error_codes: [code] });
  });

  it('refuses a malformed assertion and a wrong assertion type', async () => {
    expect((await redeem('not-a-jwt')).body).toMatchObject({ error_codes: [50027] });
    const res = await fetch(entra.tokenEndpoint, {
      method: 'POST',
      body: new URLSearchParams({
        grant_type: 'client_credentials',
        client_id: app.clientId,
        scope: 'api://assert/.default',
        client_assertion_type: 'urn:other',
        client_assertion: await assertion(),
      }),
    });
    expect(res.status).toBe(400);
  });

  it('requires a /.default scope for client credentials (AADSTS1002012)', async () => {
    const res = await fetch(entra.tokenEndpoint, {
      method: 'POST',
      body: new URLSearchParams({
        grant_type: 'client_credentials',
        client_id: app.clientId,
        scope: 'api://assert/read',
        client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
        client_assertion: await assertion(),
      }),
    });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: 'invalid_scope', error_codes: [1002012] });
  });
});
