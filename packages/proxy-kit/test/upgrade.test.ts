// The WebSocket passthrough with a real WebSocket client (ws) against testkit's realtime echo, which
// checks the bearer on the upgrade and echoes frames; the proxy is a plain node:http server with the
// forwarder for requests and the upgrade proxy attached for WebSocket upgrades.
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { TokenProvider } from '@auth-sidecars/auth-core';
import { createLogger, createMetrics, serve } from '@auth-sidecars/service-kit';
import { startOpenAiUpstream, type OpenAiUpstream } from '@auth-sidecars/testkit/openai-upstream';
import { hostileRequests, rawExchange } from '@auth-sidecars/testkit/raw-http';
import { until } from '@auth-sidecars/testkit/wait';
import WebSocket from 'ws';
import {
  createForwarder,
  createUpgradeProxy,
  proxyListener,
  refuseConnect,
  staticTokenSource,
  type BearerSource,
  type ForwardResult,
  type UpgradeProxy,
  type UpgradeProxyOptions,
} from '../src/index.js';
import { rawRequest } from './helpers.js';

const accepted = new Set<string>(['token-1', 'token-2']);
const verify = async (token: string) => {
  if (!accepted.has(token)) throw new Error('unknown token');
  return { aud: 'test', token };
};
const REALTIME = '/openai/realtime?api-version=2024-10-01-preview&deployment=gpt-4o-realtime-preview';

let upstream: OpenAiUpstream;
const cleanups: Array<() => Promise<void>> = [];

interface Proxy {
  url: string;
  ws: string;
  upgrades: UpgradeProxy;
  results: ForwardResult[];
}

async function startProxy(
  options: Partial<UpgradeProxyOptions> & { tokens?: BearerSource; target?: string } = {},
): Promise<Proxy> {
  const target = options.target ?? upstream.url;
  const tokens = options.tokens ?? staticTokenSource('token-1');
  const results: ForwardResult[] = [];
  const forwarder = createForwarder({ target, tokens });
  const upgrades = createUpgradeProxy({ ...options, target, tokens, onResult: (r) => results.push(r) });
  const server = http.createServer((req, res) => forwarder.handle(req, res));
  upgrades.attach(server);
  server.listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  const { port } = server.address() as AddressInfo;
  cleanups.push(async () => {
    await upgrades.close();
    await forwarder.close();
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });
  return { url: `http://127.0.0.1:${port}`, ws: `ws://127.0.0.1:${port}`, upgrades, results };
}

/**
 * The server as startTokenProxy builds it: service-kit's serve with the request guard and the forwarder
 * behind proxyListener, refuseConnect, and the upgrade proxy attached.
 */
async function startGuardedProxy(): Promise<Proxy> {
  const target = upstream.url;
  const tokens = staticTokenSource('token-1');
  const results: ForwardResult[] = [];
  const logger = createLogger({ service: 'upgrade-guard-test', level: 'error' });
  const forwarder = createForwarder({ target, tokens });
  const upgrades = createUpgradeProxy({ target, tokens, onResult: (r) => results.push(r) });
  const server = await serve(
    proxyListener({
      app: (_req, res) => res.end('app'),
      proxied: () => true,
      route: 'proxy',
      forwarder,
      logger,
      metrics: createMetrics('upgrade-guard-test'),
      quietPaths: [],
    }),
    { host: '127.0.0.1', port: 0, logger, shutdownTimeoutMs: 1_000 },
  );
  upgrades.attach(server.server);
  server.server.on('connect', refuseConnect);
  cleanups.push(async () => {
    await upgrades.close();
    await server.close();
    await forwarder.close();
  });
  return { url: server.url, ws: server.url.replace(/^http:/, 'ws:'), upgrades, results };
}

/** `request` (a raw request ending in an empty line) with the headers of a WebSocket handshake added. */
function asWebSocketHandshake(request: string): string {
  const lineEnd = request.indexOf('\r\n');
  return (
    request.slice(0, lineEnd + 2) +
    'Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n' +
    'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n' +
    request.slice(lineEnd + 2)
  );
}

class Refused extends Error {
  constructor(
    readonly status: number,
    readonly body: string,
    readonly headers: http.IncomingHttpHeaders,
  ) {
    super(`refused with ${status}`);
  }
}

/** Resolves with the open socket; rejects with Refused (status and body) when the server does not switch. */
function open(url: string, options: WebSocket.ClientOptions = {}, protocols?: string[]): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, protocols, options);
    ws.once('open', () => resolve(ws));
    ws.once('unexpected-response', (_req, res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        reject(new Refused(res.statusCode ?? 0, Buffer.concat(chunks).toString(), res.headers)),
      );
    });
    ws.once('error', reject);
  });
}

function nextMessage(ws: WebSocket): Promise<{ data: Buffer; binary: boolean }> {
  return new Promise((resolve) =>
    ws.once('message', (data, binary) => resolve({ data: data as Buffer, binary })),
  );
}

function closed(ws: WebSocket): Promise<{ code: number; reason: string }> {
  return new Promise((resolve) =>
    ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })),
  );
}

beforeEach(async () => {
  upstream = await startOpenAiUpstream({ verify });
});

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  await upstream.close();
});

describe('WebSocket passthrough', () => {
  it('injects the bearer on the upgrade (client credentials replaced) and echoes text and binary both ways', async () => {
    const proxy = await startProxy();
    const ws = await open(`${proxy.ws}${REALTIME}`, {
      headers: { authorization: 'Bearer client-token', 'api-key': 'client-key', 'x-trace': 't1' },
    });
    const session = upstream.webSockets[0]!;
    expect(session.url).toBe(REALTIME);
    expect(session.headers.authorization).toBe('Bearer token-1');
    expect(session.headers['api-key']).toBeUndefined();
    expect(session.headers['x-trace']).toBe('t1');
    expect(session.headers.host).toBe(new URL(upstream.url).host);

    const text = nextMessage(ws);
    ws.send(JSON.stringify({ type: 'session.update' }));
    expect(await text).toEqual({ data: Buffer.from('{"type":"session.update"}'), binary: false });
    const binary = nextMessage(ws);
    ws.send(Buffer.from([0, 1, 2, 255]));
    expect(await binary).toEqual({ data: Buffer.from([0, 1, 2, 255]), binary: true });
    // A message larger than any socket buffer crosses both ways intact.
    const big = Buffer.alloc(4 * 1024 * 1024, 7);
    big.write('head', 0);
    const echoed = nextMessage(ws);
    ws.send(big);
    expect((await echoed).data.equals(big)).toBe(true);
    expect(session.received.map((m) => m.binary)).toEqual([false, true, true]);
    expect(proxy.results).toEqual([{ status: 101, replayed: false }]);
    const done = closed(ws);
    ws.close();
    await done;
  });

  it('passes close codes both ways: the client closing first, then the upstream', async () => {
    const proxy = await startProxy();
    const first = await open(`${proxy.ws}${REALTIME}`);
    const firstClosed = closed(first);
    first.close(4001, 'client says bye');
    // The upstream got the client's code, and its echo of the close frame came back.
    expect(await firstClosed).toEqual({ code: 4001, reason: 'client says bye' });
    await until(() => upstream.webSockets[0]!.closed !== undefined, {
      what: 'the upstream to see the close',
    });
    expect(upstream.webSockets[0]!.closed).toEqual({ code: 4001, reason: 'client says bye', by: 'client' });

    const second = await open(`${proxy.ws}${REALTIME}`);
    const secondClosed = closed(second);
    second.send('close 4002 upstream says bye');
    expect(await secondClosed).toEqual({ code: 4002, reason: 'upstream says bye' });
    expect(upstream.webSockets[1]!.closed).toMatchObject({ code: 4002, by: 'upstream' });
    // Both tunnels are forgotten once both of their sides are closed.
    await until(() => proxy.upgrades.open === 0, { what: 'no open tunnel' });
  });

  it('answers a refused upgrade as the upstream did, after one forced refresh and replay', async () => {
    const tokens = staticTokenSource('wrong-1', () => 'wrong-2');
    const proxy = await startProxy({ tokens });
    const refused = await open(`${proxy.ws}${REALTIME}`).catch((err: unknown) => err);
    expect(refused).toBeInstanceOf(Refused);
    expect((refused as Refused).status).toBe(401);
    expect(JSON.parse((refused as Refused).body)).toMatchObject({ error: { code: '401' } });
    expect((refused as Refused).headers['www-authenticate']).toMatch(/invalid_token/);
    expect(tokens.invalidations).toBe(1);
    expect(upstream.requests.map((r) => [r.token, r.status])).toEqual([
      ['wrong-1', 401],
      ['wrong-2', 401],
    ]);
    expect(upstream.webSockets).toHaveLength(0);
    expect(proxy.results).toEqual([{ status: 401, replayed: true }]);
  });

  it('a source that holds its refresh back (same token again): the 401 passes through intact, no replay', async () => {
    const tokens = staticTokenSource('wrong-1');
    const proxy = await startProxy({ tokens });
    const refused = await open(`${proxy.ws}${REALTIME}`).catch((err: unknown) => err);
    expect(refused).toBeInstanceOf(Refused);
    expect((refused as Refused).status).toBe(401);
    expect(JSON.parse((refused as Refused).body)).toMatchObject({ error: { code: '401' } });
    expect((refused as Refused).headers['www-authenticate']).toBe('Bearer error="invalid_token"');
    expect(tokens.invalidations).toBe(1);
    // Replaying with the token that was just refused would only double the upstream's load.
    expect(upstream.requests.map((r) => [r.token, r.status])).toEqual([['wrong-1', 401]]);
    expect(proxy.results).toEqual([{ status: 401, replayed: false }]);
  });

  it("plain requests and upgrades share the TokenProvider's one forced refresh: a 401 storm asks the IdP once", async () => {
    let issued = 0;
    // A hand-written credential (no SDK involved): each call is one token request to count.
    const credential: ConstructorParameters<typeof TokenProvider>[0]['credential'] = {
      getToken: () => {
        issued += 1;
        accepted.add(`idp-${issued}`);
        return Promise.resolve({ token: `idp-${issued}`, expiresOnTimestamp: Date.now() + 3_600_000 });
      },
    };
    // A wide interval: on a busy machine the storm below must still fall within it.
    const tokens = new TokenProvider({
      credential,
      scope: 'api://test/.default',
      minForcedRefreshIntervalMs: 600_000,
    });
    await tokens.start();
    try {
      const proxy = await startProxy({ tokens });
      (await open(`${proxy.ws}${REALTIME}`)).terminate();
      upstream.revokeSeenTokens(); // idp-1 refused from now on
      // A plain request and an upgrade, both refused with idp-1: one forced refresh serves both replays.
      const [plain, ws] = await Promise.all([
        rawRequest(`${proxy.url}/v1/models`),
        open(`${proxy.ws}${REALTIME}`),
      ]);
      expect(plain.status).toBe(200);
      expect(upstream.webSockets[1]!.headers.authorization).toBe('Bearer idp-2');
      ws.terminate();
      expect(issued).toBe(2);
      upstream.revokeSeenTokens(); // idp-2 refused too: a storm of 401s on both paths
      const storm = await Promise.all([
        ...Array.from({ length: 10 }, () =>
          open(`${proxy.ws}${REALTIME}`).then(
            () => 101,
            (err: unknown) => (err as Refused).status,
          ),
        ),
        ...Array.from({ length: 10 }, () => rawRequest(`${proxy.url}/v1/models`).then((r) => r.status)),
      ]);
      expect(storm).toEqual(Array.from({ length: 20 }, () => 401));
      expect(issued).toBe(2); // startup + the first forced refresh; the storm asked the IdP nothing
    } finally {
      tokens.stop();
      accepted.delete('idp-1');
      accepted.delete('idp-2');
    }
  });

  it('a stale token refused with 401 is refreshed and the upgrade replayed with the new one', async () => {
    const tokens = staticTokenSource('revoked', () => 'token-2');
    const proxy = await startProxy({ tokens });
    const ws = await open(`${proxy.ws}${REALTIME}`);
    expect(upstream.webSockets[0]!.headers.authorization).toBe('Bearer token-2');
    expect(proxy.results).toEqual([{ status: 101, replayed: true }]);
    const echoed = nextMessage(ws);
    ws.send('still works');
    expect((await echoed).data.toString()).toBe('still works');
    ws.terminate();
  });

  it('never sends a key carried as a subprotocol upstream; the others are negotiated end to end', async () => {
    const proxy = await startProxy({ dropSubprotocol: (p) => p.startsWith('openai-insecure-api-key.') });
    const ws = await open(`${proxy.ws}${REALTIME}`, {}, [
      'realtime',
      'openai-insecure-api-key.sk-client-key',
      'openai-beta.realtime-v1',
    ]);
    expect(upstream.webSockets[0]!.headers['sec-websocket-protocol']).toBe(
      'realtime, openai-beta.realtime-v1',
    );
    expect(ws.protocol).toBe('realtime');
    ws.terminate();
  });

  it('leaves other upgrades (h2c) and WebSocket upgrades it does not accept to the request listener', async () => {
    const proxy = await startProxy({ accepts: (req) => req.url?.startsWith('/openai/') ?? false });
    const h2c = await rawRequest(`${proxy.url}/echo/h2c`, {
      headers: {
        connection: 'Upgrade, HTTP2-Settings',
        upgrade: 'h2c',
        'http2-settings': 'AAMAAABkAAQAAP__',
      },
    });
    expect(h2c.status).toBe(200);
    const h2cSeen = JSON.parse(h2c.body) as { headers: Record<string, string> };
    expect(h2cSeen.headers.upgrade).toBeUndefined();
    expect(h2cSeen.headers['http2-settings']).toBeUndefined();
    const elsewhere = await open(`${proxy.ws}/echo/ws`).catch((err: unknown) => err);
    // Served by the forwarder as a plain GET: the echo's 200, not a 101.
    expect((elsewhere as Refused).status).toBe(200);
    expect(upstream.webSockets).toHaveLength(0);
  });

  it('answers 502 JSON when the upstream is unreachable and 503 JSON without a token', async () => {
    const dead = http.createServer();
    dead.listen(0, '127.0.0.1');
    await new Promise((r) => dead.once('listening', r));
    const deadUrl = `http://127.0.0.1:${(dead.address() as AddressInfo).port}`;
    await new Promise((r) => dead.close(r));
    const unreachable = await startProxy({ target: deadUrl });
    const bad = (await open(`${unreachable.ws}${REALTIME}`).catch((err: unknown) => err)) as Refused;
    expect(bad.status).toBe(502);
    expect(JSON.parse(bad.body)).toMatchObject({ error: { code: 'bad_gateway' } });

    // A plain Error, as any token source may throw: still a 503, never a 502 blaming the upstream.
    const noToken: BearerSource = {
      getToken: () => Promise.reject(new Error('IdP answered 500')),
      invalidate: () => Promise.reject(new Error('IdP answered 500')),
    };
    const tokenless = await startProxy({ tokens: noToken });
    const unavailable = (await open(`${tokenless.ws}${REALTIME}`).catch((err: unknown) => err)) as Refused;
    expect(unavailable.status).toBe(503);
    expect(JSON.parse(unavailable.body)).toMatchObject({ error: { code: 'token_unavailable' } });
    expect(upstream.webSockets).toHaveLength(0);
  });

  it('a refused upgrade that came with more bytes: the connection is released once the client goes', async () => {
    // As for CONNECT (request-guard.test.ts): node hands the socket over and no longer reads it.
    // Ending our side alone kept it open for good when the client had sent more than the handshake.
    const dead = http.createServer();
    dead.listen(0, '127.0.0.1');
    await new Promise((r) => dead.once('listening', r));
    const deadUrl = `http://127.0.0.1:${(dead.address() as AddressInfo).port}`;
    await new Promise((r) => dead.close(r));
    const tokens = staticTokenSource('token-1');
    const upgrades = createUpgradeProxy({ target: deadUrl, tokens });
    const server = http.createServer((_req, res) => res.end('request listener'));
    upgrades.attach(server);
    server.listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    cleanups.push(async () => {
      await upgrades.close();
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    });
    const socket = net.connect((server.address() as AddressInfo).port, '127.0.0.1');
    socket.on('error', () => undefined);
    let data = '';
    const answered = new Promise<void>((resolve) =>
      socket.on('data', (c: Buffer) => {
        data += c.toString('latin1');
        if (data.includes('\r\n\r\n')) resolve();
      }),
    );
    socket.write(asWebSocketHandshake(`GET ${REALTIME} HTTP/1.1\r\nHost: proxy\r\n\r\n`));
    socket.write(Buffer.alloc(4 * 1024 * 1024, 0x61));
    await answered;
    expect(data).toMatch(/^HTTP\/1\.1 502 /);
    socket.destroy();
    const connections = () =>
      new Promise<number>((resolve, reject) =>
        server.getConnections((err, n) => (err ? reject(err) : resolve(n))),
      );
    const deadline = Date.now() + 20_000;
    while ((await connections()) > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(await connections()).toBe(0);
    expect(upgrades.open).toBe(0);
  }, 30_000);

  it('close() cuts open tunnels', async () => {
    const proxy = await startProxy();
    const ws = await open(`${proxy.ws}${REALTIME}`);
    expect(proxy.upgrades.open).toBe(1);
    const done = closed(ws);
    await proxy.upgrades.close();
    expect((await done).code).toBe(1006);
    expect(proxy.upgrades.open).toBe(0);
  });
});

describe('WebSocket upgrades pass the request guard (raw sockets)', () => {
  const handshake = (target: string) =>
    asWebSocketHandshake(`GET ${target} HTTP/1.1\r\nHost: proxy\r\nConnection: close\r\n\r\n`);

  it('control: a handshake on an origin-form target is switched, with the bearer upstream', async () => {
    const proxy = await startGuardedProxy();
    const socket = net.connect(Number(new URL(proxy.url).port), '127.0.0.1');
    socket.write(handshake(REALTIME));
    const head = await new Promise<string>((resolve, reject) => {
      let data = '';
      socket.on('data', (c: Buffer) => {
        data += c.toString('latin1');
        if (data.includes('\r\n\r\n')) resolve(data);
      });
      socket.on('error', reject);
    });
    socket.destroy();
    expect(head).toMatch(/^HTTP\/1\.1 101 /);
    expect(upstream.requests.map((r) => [r.url, r.token, r.status])).toEqual([[REALTIME, 'token-1', 101]]);
  });

  it.each(hostileRequests(REALTIME).map((h) => [h.name, h] as const))(
    '%s with Upgrade: websocket is refused like any request, never forwarded',
    async (_name, hostile) => {
      const proxy = await startGuardedProxy();
      const res = await rawExchange(proxy.url, asWebSocketHandshake(hostile.request));
      expect(res.status).toBe(hostile.status);
      expect(JSON.parse(res.body)).toMatchObject({
        error: { code: hostile.status === 405 ? 'method_not_allowed' : 'invalid_request_target' },
      });
      expect(res.data).not.toContain('token-1');
      expect(upstream.requests).toEqual([]);
      expect(upstream.webSockets).toEqual([]);
      expect(proxy.results).toEqual([]);
    },
  );

  it("a server without shouldUpgradeCallback hands every upgrade to handle(): a '//host' target gets the guard's 400", async () => {
    const tokens = staticTokenSource('token-1');
    const upgrades = createUpgradeProxy({ target: upstream.url, tokens });
    const server = http.createServer((_req, res) => res.end('request listener'));
    server.on('upgrade', upgrades.handle);
    server.listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    cleanups.push(async () => {
      await upgrades.close();
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    });
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const res = await rawExchange(url, handshake(`//evil.example${REALTIME}`));
    expect(res.status).toBe(400);
    expect(res.headers.connection).toBe('close');
    expect(JSON.parse(res.body)).toMatchObject({ error: { code: 'invalid_request_target' } });
    expect(upstream.requests).toEqual([]);
  });
});
