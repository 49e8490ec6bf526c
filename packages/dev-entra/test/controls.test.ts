// Run-time controls: latency, failNext, down (three modes), token lifetime, stats, /_control endpoints.
import { ClientSecretCredential } from '@azure/identity';
import { decodeJwt } from 'jose';
import { startDevEntra, type DevEntra, type RegisteredApp } from '../src/index.js';

let entra: DevEntra;
let app: RegisteredApp;

beforeAll(async () => {
  entra = await startDevEntra();
  entra.trust();
  app = entra.registerApp({ clientSecret: 'controls-secret', roles: ['R'] });
});

afterAll(async () => {
  await entra.close();
});

afterEach(async () => {
  entra.setLatency(0);
  entra.failNext(0);
  entra.setTokenLifetime(3600);
  await entra.setDown(false);
});

function tokenRequest(scope = 'api://controls/.default'): Promise<Response> {
  return fetch(entra.tokenEndpoint, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'client_credentials',
      client_id: app.clientId,
      client_secret: 'controls-secret',
      scope,
    }),
  });
}

function control(path: string, body?: unknown): Promise<Response> {
  return fetch(`${entra.url}/_control/${path}`, {
    method: body === undefined ? 'GET' : 'POST',
    headers: { 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
}

describe('run-time controls', () => {
  it('adds latency to token answers', async () => {
    entra.setLatency(400);
    const started = performance.now();
    const res = await tokenRequest();
    expect(res.status).toBe(200);
    expect(performance.now() - started).toBeGreaterThanOrEqual(380);
    entra.setLatency(0);
    const quick = performance.now();
    await tokenRequest();
    expect(performance.now() - quick).toBeLessThan(300);
  });

  it('fails the next N token requests with an Entra error body and Retry-After', async () => {
    entra.failNext(2, 503);
    for (let i = 0; i < 2; i += 1) {
      const res = await tokenRequest();
      expect(res.status).toBe(503);
      expect(res.headers.get('retry-after')).toBe('1');
      const body = (await res.json()) as Record<string, unknown>;
      expect(body).toMatchObject({ error: 'temporarily_unavailable', error_codes: [90033] });
      expect(body).toHaveProperty('trace_id');
      expect(body).toHaveProperty('correlation_id');
      expect(body).toHaveProperty('timestamp');
      expect(String(body.error_description)).toMatch(/^AADSTS90033:/);
    }
    expect((await tokenRequest()).status).toBe(200);
    entra.failNext(1, 500);
    expect((await tokenRequest()).status).toBe(500);
  });

  it('@azure/identity absorbs one injected 503 by retrying, fails after 4, then MSAL throttles that request', async () => {
    const credential = new ClientSecretCredential(entra.tenantId, app.clientId, 'controls-secret', {
      authorityHost: entra.url,
      disableInstanceDiscovery: true,
    });
    entra.resetStats();
    entra.failNext(1, 503);
    // core-rest-pipeline's retry policy absorbs a single 503 (waits Retry-After: 1 s).
    await expect(credential.getToken('api://absorbed/.default')).resolves.toMatchObject({
      token: expect.any(String),
    });
    expect(entra.stats().tokenRequests).toBe(2);
    entra.failNext(4, 503);
    await expect(credential.getToken('api://recover/.default')).rejects.toThrow(/AADSTS90033/);
    expect(entra.stats().tokenRequests).toBe(6);
    // MSAL then throttles the identical request (60 s: it reads 'Retry-After' case-sensitively from
    // lower-cased headers) and answers from its throttle cache without contacting dev-entra.
    await expect(credential.getToken('api://recover/.default')).rejects.toThrow(/AADSTS90033/);
    expect(entra.stats().tokenRequests).toBe(6);
    // A different request (scope) is not throttled.
    await expect(credential.getToken('api://other/.default')).resolves.toMatchObject({
      token: expect.any(String),
    });
    expect(entra.stats().tokenRequests).toBe(7);
  }, 20_000);

  it('lets @azure/identity recover right after a connection-refused outage (no MSAL throttling)', async () => {
    const credential = new ClientSecretCredential(entra.tenantId, app.clientId, 'controls-secret', {
      authorityHost: entra.url,
      disableInstanceDiscovery: true,
      retryOptions: { maxRetries: 1, retryDelayInMs: 50 },
    });
    await credential.getToken('api://outage/.default'); // authority metadata cached
    await entra.setDown(true, 'refuse');
    await expect(credential.getToken('api://outage2/.default')).rejects.toThrow();
    await entra.setDown(false);
    await expect(credential.getToken('api://outage2/.default')).resolves.toMatchObject({
      token: expect.any(String),
    });
  }, 20_000);

  it('is down with 503 until further notice, counted as token requests', async () => {
    entra.resetStats();
    await entra.setDown(true);
    const res = await tokenRequest();
    expect(res.status).toBe(503);
    expect(await res.json()).toMatchObject({ error: 'temporarily_unavailable' });
    expect((await tokenRequest()).status).toBe(503);
    expect(entra.stats().tokenRequests).toBe(2);
    expect(entra.stats().byStatus['503']).toBe(2);
    await entra.setDown(false);
    expect((await tokenRequest()).status).toBe(200);
    expect(entra.stats()).toMatchObject({ tokenRequests: 3, tokensIssued: 1 });
  });

  it("refuses connections in 'refuse' mode and comes back on the same URL", async () => {
    const url = entra.url;
    await entra.setDown(true, 'refuse');
    await tokenRequest().catch(() => undefined); // a pooled keep-alive connection may fail first
    const refused = await tokenRequest().then(
      () => undefined,
      (err: unknown) => (err as { cause?: { code?: string } }).cause?.code,
    );
    expect(refused).toBe('ECONNREFUSED');
    await entra.setDown(false);
    expect(entra.url).toBe(url);
    expect((await tokenRequest()).status).toBe(200);
  });

  it("drops connections without an answer in 'reset' mode", async () => {
    await entra.setDown(true, 'reset');
    await expect(tokenRequest()).rejects.toThrow();
    // control endpoints stay reachable
    expect((await control('up', {})).status).toBe(200);
    expect((await tokenRequest()).status).toBe(200);
  });

  it('issues tokens with the configured lifetime', async () => {
    entra.setTokenLifetime(4);
    const res = await tokenRequest();
    const body = (await res.json()) as {
      expires_in: number;
      ext_expires_in: number;
      access_token: string;
      token_type: string;
    };
    expect(body).toMatchObject({ token_type: 'Bearer', expires_in: 4, ext_expires_in: 4 });
    const claims = decodeJwt(body.access_token);
    expect((claims.exp ?? 0) - (claims.iat ?? 0)).toBe(4);
  });

  it('counts token requests by grant and client, and resets', async () => {
    entra.resetStats();
    await tokenRequest();
    await tokenRequest();
    await fetch(entra.tokenEndpoint, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'password',
        client_id: 'someone',
        username: 'u',
        password: 'p',
      }),
    });
    expect(entra.stats()).toMatchObject({
      tokenRequests: 3,
      byGrant: { client_credentials: 2, password: 1 },
      byClient: { [app.clientId]: 2, someone: 1 },
      tokensIssued: 2,
    });
    const log = entra.requestLog;
    expect(JSON.stringify(log)).not.toContain('controls-secret');
    expect(JSON.stringify(log)).not.toContain('"p"');
    expect(log.at(-1)).toMatchObject({
      grantType: 'password',
      status: 400,
      error: 'unsupported_grant_type AADSTS70003',
    });
    entra.resetStats();
    expect(entra.stats()).toMatchObject({ tokenRequests: 0, byGrant: {}, byClient: {} });
  });

  it('offers the same controls over HTTP under /_control', async () => {
    await control('stats/reset', {});
    expect((await control('token-lifetime', { seconds: 7 })).status).toBe(200);
    expect(entra.tokenLifetimeSeconds).toBe(7);
    await control('latency', { ms: 50 });
    await control('fail-next', { count: 1, status: 429 });
    expect(await (await control('state')).json()).toMatchObject({
      tokenLifetimeSeconds: 7,
      latencyMs: 50,
      failNext: { remaining: 1, status: 429 },
    });
    expect((await tokenRequest()).status).toBe(429);
    const ok = (await (await tokenRequest()).json()) as { expires_in: number };
    expect(ok.expires_in).toBe(7);
    await control('down', { down: true });
    expect((await tokenRequest()).status).toBe(503);
    await control('down', { down: false });
    expect((await tokenRequest()).status).toBe(200);
    expect(await (await control('stats')).json()).toMatchObject({
      tokenRequests: 4,
      byGrant: { client_credentials: 4 },
    });
    const log = (await (await control('log?limit=2')).json()) as unknown[];
    expect(log).toHaveLength(2);

    const registered = (await (
      await control('apps', { clientSecret: 'http-secret', roles: ['X'] })
    ).json()) as RegisteredApp;
    expect(registered.clientId).toMatch(/^[0-9a-f-]{36}$/);
    const federated = (await (
      await control('federated-token', { subject: 'system:serviceaccount:d:e' })
    ).json()) as { token: string };
    expect(decodeJwt(federated.token)).toMatchObject({
      sub: 'system:serviceaccount:d:e',
      iss: entra.kubernetesIssuer,
    });
    expect((await control('token-lifetime', { seconds: 'abc' })).status).toBe(400);
  });
});
