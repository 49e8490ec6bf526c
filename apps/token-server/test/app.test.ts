// createApp in-process with a scripted token source: the three protocol doors, their error shapes
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
      token: jwt({ aud: scope, appid: CLIENT_ID, oid: 'oid-1' }),
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
    const post = await fetch(`${server.url}/token?scope=x`, {
      method: 'POST',
      headers: { authorization: `Bearer ${SECRET}` },
    });
    expect(post.status).toBe(404);
    expect(await post.json()).toEqual({ error: { code: 'not_found', message: 'no route for POST /token' } });
    expect((await get('/livez')).body).toEqual({ status: 'ok' });
    expect((await get('/health')).body).toEqual({ status: 'ok' });
    expect((await get('/readyz')).status).toBe(200);
  });

  it('audit lines carry client, scope and protocol, never the token', async () => {
    const audit = lines
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .filter((l) => l.component === 'audit');
    expect(audit.some((l) => l.audit === 'issued' && l.protocol === 'imds' && l.client === 'other')).toBe(
      true,
    );
    expect(audit.some((l) => l.audit === 'denied' && l.reason === 'identity_mismatch')).toBe(true);
    expect(lines.join('\n')).not.toMatch(/eyJ[A-Za-z0-9_-]+\.eyJ/);
  });
});
