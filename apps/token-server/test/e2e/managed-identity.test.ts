// Unmodified Azure SDK apps: separate Node processes that import only @azure/identity and are
// configured only by environment variables get dev-entra tokens through the token-server.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createCertificateAuthority, createServerCertificate } from '@auth-sidecars/dev-entra';
import type { LaunchedProcess } from '@auth-sidecars/testkit/process';
import {
  getJson,
  launchServer,
  logsMatching,
  runSdkClient,
  SECRETS,
  startFixture,
  STORAGE,
  VAULT,
  type Fixture,
} from './support.js';

let fx: Fixture;
let server: LaunchedProcess;

beforeAll(async () => {
  fx = await startFixture();
  server = await launchServer(fx.serverEnv);
});

afterAll(async () => {
  await server?.close();
  await fx?.entra.close();
});

/** What an app container gets: the App Service managed-identity variables and nothing else. */
const appServiceEnv = (secret: string, endpoint = `${server.url}/msi/token`) => ({
  IDENTITY_ENDPOINT: endpoint,
  IDENTITY_HEADER: secret,
});

async function expectWorkingToken(result: Awaited<ReturnType<typeof runSdkClient>>, resource: string) {
  expect(result).toMatchObject({ ok: true, cachedSame: true });
  const claims = await fx.entra.verifyAccessToken(result.token!, { audience: resource });
  expect(claims.aud).toBe(resource);
  expect(claims.appid).toBe(fx.app.clientId);
  expect(result.expiresOnTimestamp! - Date.now()).toBeGreaterThan(55 * 60_000);
}

describe('App Service managed-identity protocol', () => {
  it('ManagedIdentityCredential in a separate process gets a token whose aud is the resource', async () => {
    await expectWorkingToken(
      await runSdkClient(['mi', `${VAULT}/.default`], appServiceEnv(SECRETS.apiOld)),
      VAULT,
    );
  });

  it('DefaultAzureCredential in a separate process does too (IDENTITY_ENDPOINT = server root)', async () => {
    await expectWorkingToken(
      await runSdkClient(['dac', `${STORAGE}/.default`], appServiceEnv(SECRETS.apiNew, server.url)),
      STORAGE,
    );
  });

  it('an SDK asking for the identity the server holds (client_id) gets it', async () => {
    await expectWorkingToken(
      await runSdkClient(['mi', `${VAULT}/.default`, fx.app.clientId], appServiceEnv(SECRETS.apiOld)),
      VAULT,
    );
  });

  it('an SDK asking for another identity is refused clearly, not given the wrong token', async () => {
    const result = await runSdkClient(
      ['mi', `${VAULT}/.default`, '00000000-0000-0000-0000-0000000000aa'],
      appServiceEnv(SECRETS.apiOld),
    );
    expect(result.ok).toBe(false);
    expect(result.message).toMatch(/client_id does not match the identity this token-server holds/);
  });

  it('a wrong IDENTITY_HEADER or a resource outside the allow-list fails in the SDK', async () => {
    const wrong = await runSdkClient(
      ['mi', `${VAULT}/.default`],
      appServiceEnv('not-a-client-secret-000000000'),
    );
    expect(wrong.ok).toBe(false);
    expect(wrong.message).toMatch(/authentication required/);
    const outside = await runSdkClient(
      ['mi', 'https://management.azure.com/.default'],
      appServiceEnv(SECRETS.apiOld),
    );
    expect(outside.ok).toBe(false);
    expect(outside.message).toMatch(/scope not allowed/);
  });

  it('pitfall: IDENTITY_SERVER_THUMBPRINT beside them makes the SDK speak Service Fabric, which fails', async () => {
    const denialsBefore = server.logs().filter((l) => l.audit === 'denied').length;
    const result = await runSdkClient(['mi', `${VAULT}/.default`], {
      ...appServiceEnv(SECRETS.apiOld),
      IDENTITY_SERVER_THUMBPRINT: 'A'.repeat(40),
    });
    expect(result.ok).toBe(false);
    // Service Fabric sends the secret in a `secret` header: the server never sees X-IDENTITY-HEADER.
    const denials = await logsMatching(server, (l) => l.audit === 'denied', denialsBefore + 1);
    expect(denials.length).toBeGreaterThan(denialsBefore);
  });

  it('answers in App Service shapes: success fields as strings, errors as {statusCode, message, correlationId}', async () => {
    const h = { 'x-identity-header': SECRETS.apiOld };
    const ok = await getJson(
      `${server.url}/msi/token?resource=${encodeURIComponent(VAULT)}&api-version=2019-08-01`,
      h,
    );
    expect(ok.status).toBe(200);
    expect(Object.keys(ok.body).sort()).toEqual([
      'access_token',
      'client_id',
      'expires_in',
      'expires_on',
      'resource',
      'token_type',
    ]);
    expect(ok.body).toMatchObject({ resource: VAULT, token_type: 'Bearer', client_id: fx.app.clientId });
    expect(ok.body.expires_on).toMatch(/^\d{10}$/);
    expect(Number(ok.body.expires_in)).toBeGreaterThan(3000);

    const cases: Array<[string, Record<string, string>, number, RegExp]> = [
      [`resource=${VAULT}&api-version=2019-08-01`, {}, 401, /authentication required/],
      [`resource=${VAULT}&api-version=2017-09-01`, h, 400, /api-version/],
      ['api-version=2019-08-01', h, 400, /resource is required/],
      [
        `resource=${VAULT}&api-version=2019-08-01&object_id=${'0'.repeat(8)}`,
        h,
        400,
        /object_id does not match/,
      ],
      [`resource=${VAULT}&api-version=2019-08-01&principal_id=x`, h, 400, /principal_id does not match/],
      [
        `resource=${VAULT}&api-version=2019-08-01&mi_res_id=/subscriptions/x`,
        h,
        400,
        /mi_res_id cannot be verified/,
      ],
      [`resource=${VAULT}&api-version=2019-08-01&client_id=a&object_id=b`, h, 400, /only one of/],
      [`resource=${VAULT}&api-version=2019-08-01&pad=${'x'.repeat(3000)}`, h, 414, /too long/],
    ];
    for (const [query, headers, status, message] of cases) {
      const res = await getJson(`${server.url}/msi/token?${query}`, headers);
      expect([query, res.status]).toEqual([query, status]);
      expect(Object.keys(res.body).sort()).toEqual(['correlationId', 'message', 'statusCode']);
      expect(res.body.statusCode).toBe(status);
      expect(res.body.message).toMatch(message);
    }
  });

  it('object_id of the identity the server holds (learned from the token) is accepted', async () => {
    const first = await getJson(`${server.url}/token?scope=${encodeURIComponent(VAULT)}`, {
      authorization: `Bearer ${SECRETS.default}`,
    });
    const oid = JSON.parse(Buffer.from(first.body.access_token.split('.')[1], 'base64url').toString())
      .oid as string;
    const res = await getJson(
      `${server.url}/msi/token?resource=${encodeURIComponent(VAULT)}&api-version=2019-08-01&object_id=${oid}`,
      {
        'x-identity-header': SECRETS.apiOld,
      },
    );
    expect(res.status).toBe(200);
  });
});

describe('IMDS emulation (AZURE_POD_IDENTITY_AUTHORITY_HOST)', () => {
  it('ManagedIdentityCredential reaches it without privileges and gets a token', async () => {
    const result = await runSdkClient(['mi', `${VAULT}/.default`], {
      AZURE_POD_IDENTITY_AUTHORITY_HOST: server.url,
    });
    await expectWorkingToken(result, VAULT);
  });

  it('attributes IMDS calls to the configured client: its allow-list applies', async () => {
    const result = await runSdkClient(['mi', `${STORAGE}/.default`], {
      AZURE_POD_IDENTITY_AUTHORITY_HOST: server.url,
    });
    expect(result.ok).toBe(false);
    const metadata = { metadata: 'true' };
    const url = `${server.url}/metadata/identity/oauth2/token?api-version=2018-02-01&resource=${encodeURIComponent(STORAGE)}`;
    const res = await getJson(url, metadata);
    expect(res.status).toBe(403);
    expect(res.body).toEqual({
      error: 'scope_not_allowed',
      error_description: 'scope not allowed for this client',
    });
  });

  it('answers IMDS shapes and refuses requests without Metadata: true or with X-Forwarded-For', async () => {
    const base = `${server.url}/metadata/identity/oauth2/token?api-version=2018-02-01&resource=${encodeURIComponent(VAULT)}`;
    const ok = await getJson(base, { metadata: 'true' });
    expect(ok.status).toBe(200);
    expect(Object.keys(ok.body).sort()).toEqual(
      [
        'access_token',
        'client_id',
        'expires_in',
        'expires_on',
        'ext_expires_in',
        'not_before',
        'resource',
        'token_type',
      ].sort(),
    );
    expect(ok.body.expires_on).toMatch(/^\d{10}$/);
    expect((await getJson(base)).status).toBe(400);
    expect((await getJson(base, { metadata: 'true', 'x-forwarded-for': '10.0.0.1' })).status).toBe(400);
    expect((await getJson(base.replace('2018-02-01', '1999-01-01'), { metadata: 'true' })).body.error).toBe(
      'invalid_request',
    );
  });
});

describe('TLS', () => {
  it('an SDK child trusting the CA through NODE_EXTRA_CA_CERTS gets a token over https', async () => {
    const ca = await createCertificateAuthority('token-server test CA');
    const cert = await createServerCertificate(ca);
    const paths = {
      ca: join(fx.dir, 'ts-ca.pem'),
      cert: join(fx.dir, 'ts-cert.pem'),
      key: join(fx.dir, 'ts-key.pem'),
    };
    writeFileSync(paths.ca, ca.certPem);
    writeFileSync(paths.cert, cert.certPem);
    writeFileSync(paths.key, cert.keyPem);
    const tlsServer = await launchServer({
      ...fx.serverEnv,
      TLS_CERT_FILE: paths.cert,
      TLS_KEY_FILE: paths.key,
    });
    try {
      expect(tlsServer.url).toMatch(/^https:\/\//);
      const result = await runSdkClient(['mi', `${VAULT}/.default`], {
        ...appServiceEnv(SECRETS.apiOld, `${tlsServer.url}/msi/token`),
        NODE_EXTRA_CA_CERTS: paths.ca,
      });
      await expectWorkingToken(result, VAULT);
    } finally {
      await tlsServer.close();
    }
  });
});
