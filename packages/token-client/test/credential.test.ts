import http from 'node:http';
import { once } from 'node:events';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { AuthServerCredential, AuthServerError, authServerCredentialFromEnv } from '../src/index.js';

// A tiny token endpoint standing in for token-server: counts calls, answers what the test says.
interface Endpoint {
  url: string;
  calls: Array<{ scope: string | null; authorization: string | undefined }>;
  respond: (scope: string) => { status: number; body: unknown; delayMs?: number };
  close(): Promise<void>;
}

async function startEndpoint(): Promise<Endpoint> {
  const endpoint: Endpoint = {
    url: '',
    calls: [],
    respond: (scope) => ({ status: 200, body: tokenBody(`tok-${scope}`, 3600) }),
    close: async () => undefined,
  };
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const scope = url.searchParams.get('scope');
    endpoint.calls.push({ scope, authorization: req.headers.authorization });
    if (url.pathname !== '/token') {
      res.writeHead(404).end('{}');
      return;
    }
    const { status, body, delayMs } = endpoint.respond(scope ?? '');
    setTimeout(
      () => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body)),
      delayMs ?? 0,
    );
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  endpoint.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  endpoint.close = () => new Promise((resolve) => server.close(() => resolve()));
  return endpoint;
}

function tokenBody(token: string, lifetimeSeconds: number) {
  const expiresOn = Math.floor(Date.now() / 1000) + lifetimeSeconds;
  return { access_token: token, expires_on: expiresOn, expires_in: lifetimeSeconds, token_type: 'Bearer' };
}

const SCOPE = 'https://vault.azure.net/.default';
let endpoint: Endpoint;

beforeEach(async () => {
  endpoint = await startEndpoint();
});
afterEach(async () => {
  await endpoint.close();
});

describe('AuthServerCredential', () => {
  it('fetches a token with the secret as bearer and returns AccessToken fields', async () => {
    const credential = new AuthServerCredential({ serverUrl: endpoint.url, secret: 's3cret-value' });
    const token = await credential.getToken(SCOPE);
    expect(token.token).toBe(`tok-${SCOPE}`);
    expect(token.tokenType).toBe('Bearer');
    expect(token.expiresOnTimestamp).toBeGreaterThan(Date.now() + 3500_000);
    expect(token.refreshAfterTimestamp).toBeLessThanOrEqual(token.expiresOnTimestamp - 5 * 60_000);
    expect(endpoint.calls).toEqual([{ scope: SCOPE, authorization: 'Bearer s3cret-value' }]);
  });

  it('accepts a serverUrl with a trailing slash', async () => {
    const credential = new AuthServerCredential({ serverUrl: `${endpoint.url}/`, secret: 'x' });
    await credential.getToken([SCOPE]);
    expect(endpoint.calls).toHaveLength(1);
  });

  it('serves repeated calls from its cache and single-flights concurrent ones', async () => {
    endpoint.respond = (scope) => ({ status: 200, body: tokenBody(`tok-${scope}`, 3600), delayMs: 50 });
    const credential = new AuthServerCredential({ serverUrl: endpoint.url, secret: 'x' });
    const tokens = await Promise.all(Array.from({ length: 100 }, () => credential.getToken(SCOPE)));
    expect(new Set(tokens.map((t) => t.token)).size).toBe(1);
    await credential.getToken(SCOPE);
    expect(endpoint.calls).toHaveLength(1);
    await credential.getToken('https://storage.azure.com/.default');
    expect(endpoint.calls).toHaveLength(2);
  });

  it('refreshes early in the background and keeps serving the old token meanwhile', async () => {
    let n = 0;
    // 6 minutes of lifetime: inside the 5-minute window after one minute; refreshAt = half-life = 3 min.
    endpoint.respond = () => ({ status: 200, body: tokenBody(`tok-${++n}`, 6 * 60), delayMs: 30 });
    const credential = new AuthServerCredential({
      serverUrl: endpoint.url,
      secret: 'x',
      refreshBeforeExpiryMs: 6 * 60_000,
    });
    const first = await credential.getToken(SCOPE);
    expect(first.token).toBe('tok-1');
    // refreshBeforeExpiry >= lifetime -> refresh is due immediately; the caller still gets tok-1 at once.
    const second = await credential.getToken(SCOPE);
    expect(second.token).toBe('tok-1');
    await new Promise((r) => setTimeout(r, 100));
    expect(endpoint.calls).toHaveLength(2);
    // After the background refresh landed, the new token is served.
    const third = await credential.getToken(SCOPE);
    expect(third.token).toBe('tok-2');
  });

  it('keeps the cached token when a background refresh fails', async () => {
    const credential = new AuthServerCredential({
      serverUrl: endpoint.url,
      secret: 'x',
      refreshBeforeExpiryMs: 2 * 3600_000,
    });
    const first = await credential.getToken(SCOPE);
    endpoint.respond = () => ({ status: 503, body: { error: { code: 'unavailable', message: 'idp down' } } });
    const second = await credential.getToken(SCOPE);
    await new Promise((r) => setTimeout(r, 50));
    const third = await credential.getToken(SCOPE);
    expect(second.token).toBe(first.token);
    expect(third.token).toBe(first.token);
    expect(endpoint.calls).toHaveLength(2); // one failed background attempt, then throttled
  });

  it('does not hand out a token about to expire: waits for a fresh one', async () => {
    let n = 0;
    endpoint.respond = () => ({ status: 200, body: tokenBody(`tok-${++n}`, n === 1 ? 10 : 3600) });
    const credential = new AuthServerCredential({ serverUrl: endpoint.url, secret: 'x' });
    expect((await credential.getToken(SCOPE)).token).toBe('tok-1');
    expect((await credential.getToken(SCOPE)).token).toBe('tok-2');
  });

  it('turns a 401 into AuthServerError with the status and no secret in the message', async () => {
    endpoint.respond = () => ({
      status: 401,
      body: { error: { code: 'unauthorized', message: 'authentication required' } },
    });
    const credential = new AuthServerCredential({ serverUrl: endpoint.url, secret: 'do-not-print-me' });
    const err = await credential.getToken(SCOPE).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AuthServerError);
    expect((err as AuthServerError).status).toBe(401);
    expect(String((err as Error).message)).not.toContain('do-not-print-me');
  });

  it('rejects a 200 body without a token', async () => {
    endpoint.respond = () => ({ status: 200, body: { token_type: 'Bearer' } });
    const credential = new AuthServerCredential({ serverUrl: endpoint.url, secret: 'x' });
    await expect(credential.getToken(SCOPE)).rejects.toThrow(/lacks access_token/);
  });

  it('reports an unreachable server as status 0', async () => {
    await endpoint.close();
    const credential = new AuthServerCredential({ serverUrl: endpoint.url, secret: 'x', timeoutMs: 2000 });
    const err = (await credential.getToken(SCOPE).catch((e: unknown) => e)) as AuthServerError;
    expect(err).toBeInstanceOf(AuthServerError);
    expect(err.status).toBe(0);
    endpoint = await startEndpoint(); // for afterEach
  });

  it('times out the whole exchange, also against a server that trickles its answer', async () => {
    // Headers at once, then one byte of body every 50 ms: a socket idle timeout never fires.
    const drips: NodeJS.Timeout[] = [];
    const trickler = http.createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{');
      const timer = setInterval(() => res.write(' '), 50);
      drips.push(timer);
      res.on('close', () => clearInterval(timer));
    });
    // Accepts the connection and never answers.
    const silent = http.createServer(() => undefined);
    for (const s of [trickler, silent]) s.listen(0, '127.0.0.1');
    await Promise.all([once(trickler, 'listening'), once(silent, 'listening')]);
    try {
      for (const server of [trickler, silent]) {
        const port = (server.address() as AddressInfo).port;
        const credential = new AuthServerCredential({
          serverUrl: `http://127.0.0.1:${port}`,
          secret: 'x',
          timeoutMs: 500,
        });
        const err = (await credential.getToken(SCOPE).catch((e: unknown) => e)) as AuthServerError;
        expect(err).toBeInstanceOf(AuthServerError);
        expect(err).toMatchObject({ status: 0, message: 'token-server did not answer within 500 ms' });
      }
    } finally {
      for (const t of drips) clearInterval(t);
      for (const s of [trickler, silent]) {
        s.closeAllConnections();
        s.close();
      }
    }
  }, 30_000);

  it('takes the expiry from the JWT exp when the answer has no expires_on (the azd auth server)', async () => {
    const exp = Math.floor(Date.now() / 1000) + 900;
    const jwt = [
      { alg: 'HS256', typ: 'JWT' },
      { iss: 'azd-auth-server', exp },
    ]
      .map((part) => Buffer.from(JSON.stringify(part)).toString('base64url'))
      .concat('sig')
      .join('.');
    // The azd auth server's answer: access_token, token_type, expires_in, scope; no expires_on.
    endpoint.respond = (scope) => ({
      status: 200,
      body: { access_token: jwt, token_type: 'Bearer', expires_in: 60, scope },
    });
    const credential = new AuthServerCredential({ serverUrl: endpoint.url, secret: 'x' });
    const token = await credential.getToken(SCOPE);
    expect(token.token).toBe(jwt);
    expect(token.expiresOnTimestamp).toBe(exp * 1000);

    // An opaque token: expires_in from now.
    endpoint.respond = () => ({
      status: 200,
      body: { access_token: 'opaque', token_type: 'Bearer', expires_in: 3600 },
    });
    const before = Date.now();
    const opaque = await credential.getToken('https://storage.azure.com/.default');
    expect(opaque.expiresOnTimestamp).toBeGreaterThanOrEqual(Math.floor(before / 1000) * 1000 + 3600_000);
    expect(opaque.expiresOnTimestamp).toBeLessThanOrEqual(Date.now() + 3600_000);

    // No way to tell the expiry: refused rather than cached forever.
    endpoint.respond = () => ({ status: 200, body: { access_token: 'opaque', token_type: 'Bearer' } });
    await expect(credential.getToken('https://graph.microsoft.com/.default')).rejects.toThrow(
      /lacks access_token or an expiry/,
    );
  });

  it('refuses more than one scope per call', async () => {
    const credential = new AuthServerCredential({ serverUrl: endpoint.url, secret: 'x' });
    await expect(credential.getToken([SCOPE, 'https://storage.azure.com/.default'])).rejects.toThrow(
      /exactly one scope/,
    );
    expect(endpoint.calls).toHaveLength(0);
  });

  it('lets an aborted caller go while the shared request completes for others', async () => {
    endpoint.respond = (scope) => ({ status: 200, body: tokenBody(`tok-${scope}`, 3600), delayMs: 200 });
    const credential = new AuthServerCredential({ serverUrl: endpoint.url, secret: 'x' });
    const controller = new AbortController();
    const aborted = credential.getToken(SCOPE, { abortSignal: controller.signal });
    const other = credential.getToken(SCOPE);
    controller.abort();
    await expect(aborted).rejects.toMatchObject({ name: 'AbortError' });
    expect((await other).token).toBe(`tok-${SCOPE}`);
    expect(endpoint.calls).toHaveLength(1);
  });

  it('re-reads the secret file on each request (rotation)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'token-client-'));
    const file = join(dir, 'secret');
    writeFileSync(file, 'first-secret\n');
    const credential = new AuthServerCredential({ serverUrl: endpoint.url, secretFile: file });
    await credential.getToken(SCOPE);
    writeFileSync(file, 'second-secret\n');
    await credential.getToken('https://storage.azure.com/.default');
    expect(endpoint.calls.map((c) => c.authorization)).toEqual([
      'Bearer first-secret',
      'Bearer second-secret',
    ]);
  });

  it('builds from AUTH_SERVER_URL and AZD_AUTH_SECRET', async () => {
    const credential = authServerCredentialFromEnv({
      AUTH_SERVER_URL: endpoint.url,
      AZD_AUTH_SECRET: 'env-secret',
    });
    await credential.getToken(SCOPE);
    expect(endpoint.calls[0]?.authorization).toBe('Bearer env-secret');
    expect(() => authServerCredentialFromEnv({ AUTH_SERVER_URL: endpoint.url })).toThrow(/AZD_AUTH_SECRET/);
  });
});
