// The seed protocol and the policy around it, against the built token-server and dev-entra.
import type { LaunchedProcess } from '@auth-sidecars/testkit/process';
import {
  decodeJwt,
  getJson,
  launchServer,
  logsMatching,
  MANAGEMENT,
  SECRETS,
  startFixture,
  STORAGE,
  VAULT,
  type Fixture,
} from './support.js';

let fx: Fixture;
let server: LaunchedProcess;
const issuedTokens = new Set<string>();

const bearer = (secret: string) => ({ authorization: `Bearer ${secret}` });
const tokenUrl = (scope?: string) =>
  `${server.url}/token${scope === undefined ? '' : `?scope=${encodeURIComponent(scope)}`}`;

async function token(scope: string, secret: string) {
  const res = await getJson(tokenUrl(scope), bearer(secret));
  if (typeof res.body?.access_token === 'string') issuedTokens.add(res.body.access_token);
  return res;
}

/** Audit lines of `kind` matching `where`, once at least `atLeast` of them were logged. */
function auditLines(
  kind: 'issued' | 'denied',
  where: (line: Record<string, unknown>) => boolean = () => true,
  atLeast = 1,
) {
  return logsMatching(server, (l) => l.component === 'audit' && l.audit === kind && where(l), atLeast);
}

beforeAll(async () => {
  fx = await startFixture();
  server = await launchServer(fx.serverEnv);
});

afterAll(async () => {
  await server?.close();
  await fx?.entra.close();
});

describe('GET /token (seed protocol)', () => {
  it('hands out a dev-entra token for the scope: access_token, expires_on, expires_in, token_type, scope', async () => {
    const before = Math.floor(Date.now() / 1000);
    const res = await token(`${VAULT}/.default`, SECRETS.default);
    expect(res.status).toBe(200);
    expect(Object.keys(res.body).sort()).toEqual([
      'access_token',
      'expires_in',
      'expires_on',
      'scope',
      'token_type',
    ]);
    expect(res.body.token_type).toBe('Bearer');
    expect(res.body.scope).toBe(`${VAULT}/.default`);
    expect(res.body.expires_on).toBeGreaterThanOrEqual(before + 3500);
    expect(res.body.expires_in).toBeGreaterThan(3500);
    const claims = await fx.entra.verifyAccessToken(res.body.access_token, { audience: VAULT });
    expect(claims.aud).toBe(VAULT);
    expect(claims.appid).toBe(fx.app.clientId);
  });

  it('401 without detail for a missing or wrong secret, and audits the denial', async () => {
    for (const headers of [{}, bearer('wrong-secret-0123456789abcdef'), { authorization: 'Basic abc' }]) {
      const res = await getJson(tokenUrl(`${VAULT}/.default`), headers);
      expect(res.status).toBe(401);
      expect(res.body).toEqual({ error: { code: 'unauthorized', message: 'authentication required' } });
    }
    const denials = await auditLines('denied', (l) => l.reason === 'unauthenticated', 3);
    expect(denials.length).toBeGreaterThanOrEqual(3);
  });

  it('no scope means Azure Resource Manager, as with the azd auth server', async () => {
    for (const url of [tokenUrl(), tokenUrl('')]) {
      const res = await getJson(url, bearer(SECRETS.default));
      expect(res.status).toBe(200);
      expect(res.body.scope).toBe(`${MANAGEMENT}/.default`);
      issuedTokens.add(res.body.access_token);
      const claims = await fx.entra.verifyAccessToken(res.body.access_token, { audience: MANAGEMENT });
      expect(claims.aud).toBe(MANAGEMENT);
    }
  });

  it('400 for a repeated or malformed scope', async () => {
    const twice = await getJson(`${server.url}/token?scope=a&scope=b`, bearer(SECRETS.default));
    expect(twice.status).toBe(400);
    const spaced = await token(`${VAULT}/.default ${STORAGE}/.default`, SECRETS.default);
    expect(spaced.status).toBe(400);
    expect(spaced.body.error.code).toBe('invalid_scope');
  });

  it('414 for an oversized query, before anything else', async () => {
    const res = await getJson(`${server.url}/token?scope=${'a'.repeat(5000)}`, bearer(SECRETS.default));
    expect(res.status).toBe(414);
    expect(res.body.error.code).toBe('uri_too_long');
    expect(await auditLines('denied', (l) => l.reason === 'query_too_long')).toHaveLength(1);
  });

  it('per-client allow-lists: 403 outside the list with an audit line, both rotation secrets work', async () => {
    expect((await token(`${STORAGE}/.default`, SECRETS.apiOld)).status).toBe(200);
    expect((await token(STORAGE, SECRETS.apiNew)).status).toBe(200);
    const denied = await token(`${MANAGEMENT}/.default`, SECRETS.apiNew);
    expect(denied.status).toBe(403);
    expect(denied.body.error.code).toBe('scope_not_allowed');
    expect(await auditLines('denied', (l) => l.reason === 'scope_not_allowed')).toContainEqual(
      expect.objectContaining({
        client: 'api',
        scope: `${MANAGEMENT}/.default`,
        reason: 'scope_not_allowed',
        protocol: 'seed',
      }),
    );
    expect((await token(`${MANAGEMENT}/.default`, SECRETS.worker)).status).toBe(200);
  });

  it('audits every issuance with client, scope and expiry', async () => {
    const lines = await auditLines('issued', () => true, 4);
    expect(lines.length).toBeGreaterThanOrEqual(4);
    expect(lines).toContainEqual(
      expect.objectContaining({ client: 'api', scope: `${STORAGE}/.default`, protocol: 'seed' }),
    );
    for (const line of lines) expect(typeof line.expiresOn).toBe('string');
  });

  it('1000 concurrent calls for a new scope cost dev-entra exactly one token request', async () => {
    const scope = 'api://burst-test/.default';
    fx.entra.resetStats();
    fx.entra.setLatency(200); // keep the IdP call in flight while the burst piles up
    try {
      const results = await Promise.all(Array.from({ length: 1000 }, () => token(scope, SECRETS.default)));
      expect(results.filter((r) => r.status !== 200)).toEqual([]);
      expect(new Set(results.map((r) => r.body.access_token)).size).toBe(1);
      expect(fx.entra.stats().tokenRequests).toBe(1);
      expect(decodeJwt(results[0]!.body.access_token).aud).toBe('api://burst-test');
    } finally {
      fx.entra.setLatency(0);
    }
  });

  it('dev-entra down while the token is valid: zero failures', async () => {
    const scope = `${VAULT}/.default`;
    expect((await token(scope, SECRETS.default)).status).toBe(200);
    await fx.entra.setDown(true);
    try {
      fx.entra.resetStats();
      const results = await Promise.all(Array.from({ length: 300 }, () => token(scope, SECRETS.default)));
      expect(results.filter((r) => r.status !== 200)).toEqual([]);
      expect(fx.entra.stats().tokenRequests).toBe(0);
    } finally {
      await fx.entra.setDown(false);
    }
  });

  it('a new scope while dev-entra is down: 503, and the next call after recovery works', async () => {
    await fx.entra.setDown(true);
    try {
      const res = await token('api://while-down/.default', SECRETS.default);
      expect(res.status).toBe(503);
      expect(res.body.error.code).toBe('token_unavailable');
      // Says which side is at fault: an outage, not the configuration.
      expect(res.body.error.message).toMatch(
        /^no token available for this scope: no valid access token for scope api:\/\/while-down\/\.default: the identity provider is unreachable/,
      );
      const [denial] = await auditLines('denied', (l) => l.reason === 'token_unavailable');
      expect(denial?.detail).toMatch(
        /no token available for this scope: no valid access token for scope api:\/\/while-down/,
      );
    } finally {
      await fx.entra.setDown(false);
    }
    expect((await token('api://while-down/.default', SECRETS.default)).status).toBe(200);
  });

  it('/livez, /readyz, /health and /metrics (issuances by client and scope, denials, cache hits)', async () => {
    expect((await getJson(`${server.url}/livez`)).body).toEqual({ status: 'ok' });
    expect((await getJson(`${server.url}/health`)).body).toEqual({ status: 'ok' });
    const ready = await getJson(`${server.url}/readyz`);
    expect(ready.status).toBe(200);
    expect(ready.body.details.providers).toBeGreaterThanOrEqual(1);
    expect(ready.body.details.valid).toBe(ready.body.details.providers);
    // The burst test's calls may all have waited on the one IdP request (no hit yet): one more call is a hit.
    expect((await token('api://burst-test/.default', SECRETS.default)).status).toBe(200);
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    expect(metrics).toMatch(
      /token_server_issuances_total\{client="api",scope="https:\/\/storage\.azure\.com\/\.default",protocol="seed"[^}]*\} 2/,
    );
    expect(metrics).toMatch(
      /token_server_denials_total\{client="api",reason="scope_not_allowed",protocol="seed"[^}]*\} 1/,
    );
    expect(metrics).toMatch(
      /token_server_denials_total\{client="unknown",reason="unauthenticated",protocol="seed"[^}]*\} [3-9]/,
    );
    expect(metrics).toMatch(
      /token_server_cache_hits_total\{scope="api:\/\/burst-test\/\.default"[^}]*\} \d+/,
    );
    expect(metrics).toMatch(/token_server_scope_providers\{[^}]*\} \d+/);
    expect(metrics).toMatch(
      /auth_token_refresh_total\{scope="https:\/\/vault\.azure\.net\/\.default",result="success"/,
    );
  });

  it('no token, no secret and nothing token-looking in any log line', async () => {
    expect(issuedTokens.size).toBeGreaterThan(3);
    const text = server.lines.join('\n');
    expect(server.lines.length).toBeGreaterThan(50);
    for (const t of issuedTokens) expect(text).not.toContain(t);
    for (const s of Object.values(SECRETS)) expect(text).not.toContain(s);
    expect(text).not.toMatch(/eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\./);
  });
});
