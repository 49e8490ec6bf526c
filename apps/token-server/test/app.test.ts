// createApp in-process with a scripted token source: the four protocol doors, their error shapes
// and that each error reaches its own protocol's handler. (The real provider and IdP: test/e2e.)
import { Writable } from 'node:stream';
import type { AccessToken } from '@azure/core-auth';
import {
  createLogger,
  createMetrics,
  serve,
  ServiceUnavailableError,
  type RunningServer,
} from '@auth-sidecars/service-kit';
import { createRequestListener, type TokenSource } from '../src/app.js';
import { loadTokenServerConfig } from '../src/config.js';
import { loadPolicy } from '../src/policy.js';

const SECRET = 'app-test-secret-0123456789';
const OTHER = 'other-client-secret-012345';
const CLIENT_ID = '11111111-1111-1111-1111-111111111111';
const TENANT = '22222222-2222-2222-2222-222222222222';

function jwt(claims: Record<string, unknown>): string {
  const enc = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
  return `${enc({ alg: 'none' })}.${enc(claims)}.x`;
}

class ScriptedTokens implements TokenSource {
  calls: string[] = [];
  fail = false;
  readonly size = 1;
  async get(scope: string) {
    this.calls.push(scope);
    if (this.fail)
      throw new ServiceUnavailableError('no token available for this scope', 'token_unavailable');
    const token: AccessToken = {
      token: jwt({ aud: scope, appid: CLIENT_ID, oid: 'oid-1', tid: TENANT }),
      expiresOnTimestamp: Date.now() + 3600_000,
    };
    return { token, cacheHit: this.calls.length > 1 };
  }
  ready() {
    return true;
  }
  status() {
    return { providers: 1, valid: 1, warm: 0, warmValid: 0 };
  }
}

let server: RunningServer;
let tokens: ScriptedTokens;
const lines: string[] = [];

beforeAll(async () => {
  const sink = new Writable({
    write(chunk, _enc, cb) {
      lines.push(...String(chunk).split('\n').filter(Boolean));
      cb();
    },
  });
  const logger = createLogger({ service: 'token-server', level: 'debug', stream: sink });
  const config = loadTokenServerConfig({
    AZD_AUTH_SECRET: SECRET,
    TOKEN_SERVER_IMDS_CLIENT: 'other',
    AZURE_CLIENT_ID: CLIENT_ID,
  });
  const policy = loadPolicy({
    secret: SECRET,
    allowedScopes: ['*'],
    clientsJson: JSON.stringify([{ name: 'other', secrets: [OTHER], scopes: ['https://vault.azure.net'] }]),
  });
  tokens = new ScriptedTokens();
  const listener = createRequestListener(config, {
    logger,
    metrics: createMetrics('token-server'),
    policy: () => policy,
    tokens,
  });
  server = await serve(listener, { host: '127.0.0.1', port: 0, logger });
});

afterAll(async () => {
  await server.close();
});

async function get(path: string, headers: Record<string, string> = {}) {
  const res = await fetch(`${server.url}${path}`, { headers });
  return { status: res.status, body: (await res.json()) as Record<string, unknown>, headers: res.headers };
}

describe('createApp', () => {
  it('seed: bare resource and scope share one provider key; no-store', async () => {
    const a = await get('/token?scope=https://vault.azure.net', { authorization: `Bearer ${SECRET}` });
    const b = await get('/token?scope=https://vault.azure.net/.default', {
      authorization: `bearer ${SECRET}`,
    });
    expect([a.status, b.status]).toEqual([200, 200]);
    expect(tokens.calls.slice(-2)).toEqual([
      'https://vault.azure.net/.default',
      'https://vault.azure.net/.default',
    ]);
    expect(a.headers.get('cache-control')).toBe('no-store');
    expect(a.headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(a.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    const head = await fetch(`${server.url}/token?scope=https://vault.azure.net`, {
      method: 'HEAD',
      headers: { authorization: `Bearer ${SECRET}` },
    });
    expect(head.status).toBe(200);
    expect(await head.text()).toBe('');
  });

  it('seed: answers what the azd auth server does (scope included); no scope means ARM', async () => {
    const res = await get('/token?scope=https://vault.azure.net', { authorization: `Bearer ${SECRET}` });
    expect(Object.keys(res.body).sort()).toEqual([
      'access_token',
      'expires_in',
      'expires_on',
      'scope',
      'token_type',
    ]);
    expect(res.body).toMatchObject({ scope: 'https://vault.azure.net/.default', token_type: 'Bearer' });
    expect(typeof res.body.expires_in).toBe('number');
    for (const path of ['/token', '/token?scope=']) {
      const arm = await get(path, { authorization: `Bearer ${SECRET}` });
      expect(arm.status).toBe(200);
      expect(arm.body.scope).toBe('https://management.azure.com/.default');
      expect(tokens.calls.at(-1)).toBe('https://management.azure.com/.default');
    }
    // The default scope still passes the client's allow-list.
    const denied = await get('/token', { authorization: `Bearer ${OTHER}` });
    expect(denied).toMatchObject({ status: 403, body: { error: { code: 'scope_not_allowed' } } });
  });

  it('seed errors keep service-kit shape although the App Service router comes later', async () => {
    const res = await get('/token?scope=x');
    expect(res.status).toBe(401);
    expect(res.body).toEqual({ error: { code: 'unauthorized', message: 'authentication required' } });
    expect(res.headers.get('www-authenticate')).toBe('Bearer');
  });

  it('App Service: client_id from config, resource echoed without /.default; 503 in App Service shape', async () => {
    const ok = await get('/?resource=https://vault.azure.net/.default&api-version=2019-08-01', {
      'x-identity-header': OTHER,
    });
    expect(ok.body).toMatchObject({
      client_id: CLIENT_ID,
      resource: 'https://vault.azure.net',
      token_type: 'Bearer',
    });
    tokens.fail = true;
    try {
      const down = await get('/msi/token?resource=https://vault.azure.net&api-version=2019-08-01', {
        'x-identity-header': OTHER,
      });
      expect(down.status).toBe(503);
      expect(down.body).toMatchObject({ statusCode: 503, message: 'no token available for this scope' });
      expect(typeof down.body.correlationId).toBe('string');
      expect(down.body.correlationId).toBe(down.headers.get('x-request-id'));
    } finally {
      tokens.fail = false;
    }
  });

  it('IMDS: attributed to the configured client; selectors checked against config', async () => {
    const base = '/metadata/identity/oauth2/token?api-version=2018-02-01&resource=https://vault.azure.net';
    expect((await get(base, { metadata: 'true' })).status).toBe(200);
    // msal-node asks with a trailing slash.
    const slashed = base.replace('/token?', '/token/?');
    expect((await get(slashed, { metadata: 'true' })).body).toMatchObject({ token_type: 'Bearer' });
    expect((await get(`${base}&client_id=${CLIENT_ID}`, { metadata: 'true' })).status).toBe(200);
    const wrong = await get(`${base}&msi_res_id=/subscriptions/s/x`, { metadata: 'true' });
    expect(wrong).toMatchObject({ status: 400, body: { error: 'identity_mismatch' } });
    const outside = await get(base.replace('vault.azure.net', 'storage.azure.com'), { metadata: 'true' });
    expect(outside.status).toBe(403);
  });

  it('unknown paths and methods are 404 in service-kit shape; health routes answer', async () => {
    expect((await get('/nope')).body).toMatchObject({ error: { code: 'not_found' } });
    const put = await fetch(`${server.url}/token?scope=x`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${SECRET}` },
    });
    expect(put.status).toBe(404);
    expect(await put.json()).toEqual({ error: { code: 'not_found', message: 'no route for PUT /token' } });
    const postMsi = await fetch(`${server.url}/msi/token`, { method: 'POST' });
    expect(postMsi.status).toBe(404);
    expect((await get('/livez')).body).toEqual({ status: 'ok' });
    expect((await get('/health')).body).toEqual({ status: 'ok' });
    expect((await get('/readyz')).status).toBe(200);
  });

  describe('azd external authentication (POST /token, AZD_AUTH_ENDPOINT)', () => {
    const AZD_URL = '/token?api-version=2023-07-12-preview';
    async function azd(
      body: unknown,
      { key = SECRET, url = AZD_URL, type = 'application/json' } = {},
    ): Promise<{ status: number; body: Record<string, unknown> }> {
      // What azd's RemoteCredential sends.
      const res = await fetch(`${server.url}${url}`, {
        method: 'POST',
        headers: { 'content-type': type, authorization: `Bearer ${key}` },
        body: typeof body === 'string' ? body : JSON.stringify(body),
      });
      return { status: res.status, body: (await res.json()) as Record<string, unknown> };
    }

    it('answers { status: success, token, expiresOn (RFC 3339) } for one scope', async () => {
      const before = Date.now();
      const res = await azd({ scopes: ['https://management.azure.com//.default'], tenantId: TENANT });
      expect(res.status).toBe(200);
      expect(Object.keys(res.body).sort()).toEqual(['expiresOn', 'status', 'token']);
      expect(res.body.status).toBe('success');
      expect(tokens.calls.at(-1)).toBe('https://management.azure.com//.default');
      const expiresOn = res.body.expiresOn as string;
      expect(expiresOn).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/);
      expect(Date.parse(expiresOn)).toBeGreaterThan(before + 3500_000);
      // Without tenantId (azd omits it when empty) and with a bare resource.
      const bare = await azd({ scopes: ['https://vault.azure.net'] });
      expect(bare.body.status).toBe('success');
      expect(tokens.calls.at(-1)).toBe('https://vault.azure.net/.default');
    });

    it('token refusals are 200 { status: error, code: GetTokenError, message }, as azd expects', async () => {
      const outside = await azd({ scopes: ['https://storage.azure.com/.default'] }, { key: OTHER });
      expect(outside).toEqual({
        status: 200,
        body: { status: 'error', code: 'GetTokenError', message: 'scope not allowed for this client' },
      });
      const otherTenant = await azd({
        scopes: ['https://vault.azure.net/.default'],
        tenantId: 'contoso.test',
      });
      expect(otherTenant.body).toMatchObject({ status: 'error', code: 'GetTokenError' });
      expect(otherTenant.body.message).toMatch(/tenantId does not match/);
      tokens.fail = true;
      try {
        const down = await azd({ scopes: ['https://vault.azure.net/.default'] });
        expect(down).toMatchObject({ status: 200, body: { status: 'error', code: 'GetTokenError' } });
      } finally {
        tokens.fail = false;
      }
    });

    it('requests azd could not have meant get 4xx in service-kit shape', async () => {
      const scope = { scopes: ['https://vault.azure.net/.default'] };
      const cases: Array<[string, Awaited<ReturnType<typeof azd>>, number, string]> = [
        ['wrong key', await azd(scope, { key: 'not-a-client-secret-0000' }), 401, 'unauthorized'],
        ['no api-version', await azd(scope, { url: '/token' }), 400, 'invalid_request'],
        [
          'form body',
          await azd('scopes=x', { type: 'application/x-www-form-urlencoded' }),
          400,
          'invalid_request',
        ],
        ['not JSON', await azd('{"scopes":', {}), 400, 'invalid_request'],
        ['no scopes', await azd({ tenantId: TENANT }), 400, 'invalid_scope'],
        [
          'two scopes',
          await azd({ scopes: ['https://a/.default', 'https://b/.default'] }),
          400,
          'invalid_scope',
        ],
        [
          'spaced scope',
          await azd({ scopes: ['https://a/.default https://b/.default'] }),
          400,
          'invalid_scope',
        ],
        ['tenant not a string', await azd({ ...scope, tenantId: 7 }), 400, 'invalid_scope'],
        ['tenant too long', await azd({ ...scope, tenantId: 't'.repeat(300) }), 400, 'invalid_scope'],
        ['array body', await azd([scope]), 400, 'invalid_scope'],
        ['huge body', await azd({ ...scope, pad: 'x'.repeat(20_000) }), 413, 'payload_too_large'],
      ];
      for (const [name, res, status, code] of cases) {
        expect([name, res.status, (res.body.error as { code?: string } | undefined)?.code]).toEqual([
          name,
          status,
          code,
        ]);
      }
    });
  });

  it('audit lines carry client, scope and protocol, never the token', async () => {
    const audit = lines
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .filter((l) => l.component === 'audit');
    expect(audit.some((l) => l.audit === 'issued' && l.protocol === 'imds' && l.client === 'other')).toBe(
      true,
    );
    expect(audit.some((l) => l.audit === 'denied' && l.reason === 'identity_mismatch')).toBe(true);
    expect(audit.some((l) => l.audit === 'issued' && l.protocol === 'azd')).toBe(true);
    expect(audit.some((l) => l.audit === 'denied' && l.protocol === 'azd' && l.client === 'other')).toBe(
      true,
    );
    expect(lines.join('\n')).not.toMatch(/eyJ[A-Za-z0-9_-]+\.eyJ/);
  });
});
