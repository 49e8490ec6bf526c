// azd's clients against the built token-server and dev-entra. The azd CLI's RemoteCredential
// (AZD_AUTH_ENDPOINT + AZD_AUTH_KEY) cannot run here (no azd binary), so its request is sent as its
// source builds it (POST, JSON body with scopes and tenantId, the key as bearer) and its answer read
// as it reads it; the azd auth server's clients read `access_token`, `expires_in` (an integer) and
// `scope` from GET /token.
import type { LaunchedProcess } from '@auth-sidecars/testkit/process';
import { getJson, launchServer, MANAGEMENT, SECRETS, startFixture, VAULT, type Fixture } from './support.js';

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

/** What azd's RemoteCredential.GetToken sends: `AZD_AUTH_ENDPOINT` is the server root. */
async function remoteCredential(key: string, scopes: string[], tenantId?: string) {
  const res = await fetch(`${server.url}/token?api-version=2023-07-12-preview`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
    body: JSON.stringify({ scopes, ...(tenantId ? { tenantId } : {}) }),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

// RFC 3339 as Go's time.Time unmarshals it.
const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

describe("azd's external authentication (RemoteCredential)", () => {
  it("gets azd's ARM token (scope https://management.azure.com//.default) for the server's tenant", async () => {
    const res = await remoteCredential(SECRETS.default, [`${MANAGEMENT}//.default`], fx.entra.tenantId);
    expect(res.status).toBe(200);
    expect(res.body.status).toBe('success');
    expect(res.body.expiresOn).toMatch(RFC3339);
    expect(Date.parse(res.body.expiresOn as string)).toBeGreaterThan(Date.now() + 55 * 60_000);
    const claims = await fx.entra.verifyAccessToken(res.body.token as string, { audience: `${MANAGEMENT}/` });
    expect(claims.tid).toBe(fx.entra.tenantId);
    expect(claims.appid).toBe(fx.app.clientId);
    const issued = server.logs().filter((l) => l.audit === 'issued' && l.protocol === 'azd');
    expect(issued).toEqual([
      expect.objectContaining({ client: 'default', scope: `${MANAGEMENT}//.default` }),
    ]);
  });

  it('refusals come as status error with code and message, which azd dereferences', async () => {
    const otherTenant = await remoteCredential(
      SECRETS.default,
      [`${MANAGEMENT}//.default`],
      '00000000-0000-0000-0000-00000000beef',
    );
    const outside = await remoteCredential(SECRETS.worker, [`${VAULT}/.default`]);
    for (const res of [otherTenant, outside]) {
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ status: 'error', code: 'GetTokenError', message: expect.any(String) });
    }
    expect(otherTenant.body.message).toMatch(/tenantId does not match/);
    expect(outside.body.message).toBe('scope not allowed for this client');
    // A wrong key is not azd's to handle: a plain 401.
    expect((await remoteCredential('not-the-key-0000000000000', [`${VAULT}/.default`])).status).toBe(401);
  });
});

describe("the azd auth server's clients (GET /token)", () => {
  it('find access_token, an integer expires_in and the scope', async () => {
    const res = await getJson(`${server.url}/token?scope=${encodeURIComponent(`${VAULT}/.default`)}`, {
      authorization: `Bearer ${SECRETS.apiOld}`,
    });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ token_type: 'Bearer', scope: `${VAULT}/.default` });
    expect(Number.isInteger(res.body.expires_in)).toBe(true);
    expect(res.body.expires_in).toBeGreaterThan(55 * 60);
    await fx.entra.verifyAccessToken(res.body.access_token, { audience: VAULT });
  });
});
