// What the proxies refuse at entry, attacked with raw sockets (a real HTTP client would not send most
// of these): absolute-form and other non-path targets, TRACE/TRACK/CONNECT, slow headers, too many
// connections. The server is built as startTokenProxy builds it (serve + proxyListener + refuseConnect),
// and the upstream records every request it gets, so "never forwarded" is observed, not assumed.
import type http from 'node:http';
import net from 'node:net';
import { Writable } from 'node:stream';
import { createLogger, createMetrics, serve, type RunningServer } from '@auth-sidecars/service-kit';
import {
  parseRawResponse,
  rawExchange,
  startRecordingUpstream,
  type RecordingUpstream,
} from '@auth-sidecars/testkit/raw-http';
import {
  createForwarder,
  proxyListener,
  refuseConnect,
  staticTokenSource,
  type Forwarder,
} from '../src/index.js';

let upstream: RecordingUpstream;
const logLines: string[] = [];
let forwarder: Forwarder;
let proxy: RunningServer;

async function startProxy(options: { headersTimeoutMs?: number; maxConnections?: number } = {}) {
  const sink = new Writable({
    write(chunk, _enc, cb) {
      logLines.push(...String(chunk).split('\n').filter(Boolean));
      cb();
    },
  });
  const logger = createLogger({ service: 'guard-test', level: 'info', stream: sink });
  const app: http.RequestListener = (_req, res) => res.end('app');
  proxy = await serve(
    proxyListener({
      app,
      proxied: () => true,
      route: 'proxy',
      forwarder,
      logger,
      metrics: createMetrics('guard-test'),
      quietPaths: [],
    }),
    { host: '127.0.0.1', port: 0, logger, shutdownTimeoutMs: 1_000, ...options },
  );
  proxy.server.on('connect', refuseConnect);
}

const exchange = (request: string) => rawExchange(proxy.url, request);
const statusOf = (data: string) => parseRawResponse(data).status;

beforeAll(async () => {
  upstream = await startRecordingUpstream();
  forwarder = createForwarder({ target: upstream.url, tokens: staticTokenSource('injected-bearer') });
});

afterEach(async () => {
  await proxy?.close();
  upstream.seen.length = 0;
});

afterAll(async () => {
  await forwarder.close();
  await upstream.close();
});

describe('refused at entry, never forwarded', () => {
  beforeEach(() => startProxy());

  it('control: an origin-form request is forwarded with the bearer (the upstream records it)', async () => {
    const res = await exchange('GET /v1/models HTTP/1.1\r\nHost: proxy\r\nConnection: close\r\n\r\n');
    expect(res.status).toBe(200);
    expect(upstream.seen).toEqual([
      { method: 'GET', url: '/v1/models', authorization: 'Bearer injected-bearer' },
    ]);
  });

  it.each([
    ['absolute-form', 'GET http://evil.example/v1/models HTTP/1.1\r\nHost: evil.example\r\n\r\n'],
    [
      'absolute-form with credentials',
      'POST https://user:pw@evil.example/x HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n',
    ],
    ['asterisk-form', 'OPTIONS * HTTP/1.1\r\nHost: proxy\r\n\r\n'],
    ['a target starting with //', 'GET //evil.example/v1/models HTTP/1.1\r\nHost: proxy\r\n\r\n'],
  ])('%s: 400 invalid_request_target, connection closed', async (_name, request) => {
    const res = await exchange(request);
    expect(res.status).toBe(400);
    expect(res.headers.connection).toBe('close');
    expect(JSON.parse(res.body)).toEqual({
      error: {
        code: 'invalid_request_target',
        message:
          'the request target must be a path starting with a single "/" (absolute-form, authority-form and "*" are refused)',
      },
    });
    expect(upstream.seen).toEqual([]);
    expect(res.data).not.toContain('injected-bearer');
  });

  it.each([
    ['a target without a leading /', 'GET v1/models HTTP/1.1\r\nHost: proxy\r\n\r\n'],
    ['TRACK (a method node does not know)', 'TRACK /v1/models HTTP/1.1\r\nHost: proxy\r\n\r\n'],
  ])("%s: node's parser answers 400 before any handler; never forwarded", async (_name, request) => {
    const res = await exchange(request);
    expect(res.status).toBe(400);
    expect(upstream.seen).toEqual([]);
  });

  it('TRACE: 405 with Allow, the bearer never echoed', async () => {
    const res = await exchange(`TRACE /v1/models HTTP/1.1\r\nHost: proxy\r\n\r\n`);
    expect(res.status).toBe(405);
    expect(res.headers.allow).toBe('GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS');
    expect(JSON.parse(res.body)).toMatchObject({ error: { code: 'method_not_allowed' } });
    expect(res.data).not.toContain('injected-bearer');
    expect(upstream.seen).toEqual([]);
  });

  it('CONNECT: 405 (node would otherwise drop the connection without an answer)', async () => {
    const res = await exchange('CONNECT evil.example:443 HTTP/1.1\r\nHost: evil.example:443\r\n\r\n');
    expect(res.status).toBe(405);
    expect(JSON.parse(res.body)).toMatchObject({ error: { code: 'method_not_allowed' } });
    expect(upstream.seen).toEqual([]);
  });

  it('CONNECT with a body: the connection is released once the client goes, and the proxy drains', async () => {
    // The fuzz suite's find: the client writes a large body after the CONNECT line, reads the 405
    // and drops its socket. Before, the proxy ended its side only and never read again: the unread
    // bytes filled the window, the client's close never came through, the socket stayed open for
    // good (one per such request) and a graceful shutdown hit its deadline.
    const socket = net.connect(proxy.port, '127.0.0.1');
    socket.on('error', () => undefined);
    let data = '';
    const answered = new Promise<void>((resolve) =>
      socket.on('data', (c: Buffer) => {
        data += c.toString('latin1');
        if (data.includes('\r\n\r\n')) resolve();
      }),
    );
    const body = Buffer.alloc(4 * 1024 * 1024, 0x61);
    socket.write(`CONNECT /v1/models HTTP/1.1\r\nHost: proxy\r\nContent-Length: ${body.length}\r\n\r\n`);
    socket.write(body);
    await answered;
    expect(statusOf(data)).toBe(405);
    socket.destroy();
    const connections = () =>
      new Promise<number>((resolve, reject) =>
        proxy.server.getConnections((err, n) => (err ? reject(err) : resolve(n))),
      );
    const deadline = Date.now() + 20_000;
    while ((await connections()) > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(await connections()).toBe(0);
    // Nothing left for the shutdown to wait for: it drains within its 1 s deadline.
    expect(await proxy.close()).toBe(true);
    expect(upstream.seen).toEqual([]);
  }, 30_000);

  it('CONNECT: a client that keeps the connection open and keeps sending is cut after the linger time', async () => {
    // allowHalfOpen: the proxy's end of its side does not end ours.
    const socket = net.connect({ port: proxy.port, host: '127.0.0.1', allowHalfOpen: true });
    socket.on('error', () => undefined);
    let data = '';
    socket.on('data', (c: Buffer) => (data += c.toString('latin1')));
    const closed = new Promise<void>((resolve, reject) => {
      socket.on('close', () => resolve());
      setTimeout(() => reject(new Error(`still open after 20 s; read ${JSON.stringify(data)}`)), 20_000);
    });
    socket.write('CONNECT evil.example:443 HTTP/1.1\r\nHost: evil.example:443\r\n\r\n');
    const drip = setInterval(() => socket.write('x'.repeat(1024)), 100);
    const started = Date.now();
    await closed.finally(() => {
      clearInterval(drip);
      socket.destroy();
    });
    expect(statusOf(data)).toBe(405);
    // Not before LINGERING_CLOSE_MS (5 s): a client that reads slowly still gets its answer.
    expect(Date.now() - started).toBeGreaterThanOrEqual(4_000);
  }, 30_000);

  it("refusals are request-logged like any request; the target's credentials are redacted", async () => {
    await exchange('GET http://user:secret-pw@evil.example/a HTTP/1.1\r\nHost: x\r\n\r\n');
    const deadline = Date.now() + 10_000;
    let line: Record<string, unknown> | undefined;
    while (!line && Date.now() < deadline) {
      line = logLines
        .map((l) => JSON.parse(l) as Record<string, unknown>)
        .find((l) => l.status === 400 && String(l.path).includes('evil.example/a'));
      if (!line) await new Promise((r) => setTimeout(r, 20));
    }
    expect(line).toBeDefined();
    expect(line!.path).toMatch(/^http:\/\/.*evil\.example\/a$/);
    expect(logLines.join('\n')).not.toContain('secret-pw');
  });
});

describe('client connection limits', () => {
  it('slow headers get 408 after the headers timeout; an idle keep-alive connection is not cut by it', async () => {
    await startProxy({ headersTimeoutMs: 1_000 });
    // Idle keep-alive: a second request 2.5 s after the first (longer than the headers timeout).
    const keepAlive = net.connect(proxy.port, '127.0.0.1');
    let kaData = '';
    keepAlive.on('data', (c: Buffer) => (kaData += c.toString('latin1')));
    keepAlive.write('GET /first HTTP/1.1\r\nHost: proxy\r\n\r\n');

    // Slowloris: a header line every 300 ms, never the end of the headers.
    const started = Date.now();
    const slow = net.connect(proxy.port, '127.0.0.1');
    let slowData = '';
    slow.on('data', (c: Buffer) => (slowData += c.toString('latin1')));
    slow.on('error', () => undefined);
    slow.write('GET /slow HTTP/1.1\r\nHost: proxy\r\n');
    const drip = setInterval(() => slow.write('X-Drip: 1\r\n'), 300);
    const closedAfter = await new Promise<number>((resolve) =>
      slow.on('close', () => resolve(Date.now() - started)),
    );
    clearInterval(drip);
    expect(statusOf(slowData)).toBe(408);
    // Far below the 66 s it took before; the bound is loose because the machine may be busy.
    expect(closedAfter).toBeLessThan(15_000);

    await new Promise((r) => setTimeout(r, Math.max(0, 2_500 - (Date.now() - started))));
    keepAlive.write('GET /second HTTP/1.1\r\nHost: proxy\r\nConnection: close\r\n\r\n');
    await new Promise((resolve) => keepAlive.on('close', resolve));
    expect(kaData.match(/^HTTP\/1\.1 200/gm)).toHaveLength(2);
    expect(upstream.seen.map((s) => s.url)).toEqual(['/first', '/second']);
  }, 30_000);

  it('the default headers timeout is 12 s, apart from the 65 s keep-alive', async () => {
    await startProxy();
    expect(proxy.server.headersTimeout).toBe(12_000);
    expect(proxy.server.keepAliveTimeout).toBe(65_000);
  });

  it('caps concurrent connections: one more is closed at accept, a freed slot is usable again', async () => {
    await startProxy({ maxConnections: 2 });
    const open = async () => {
      const socket = net.connect(proxy.port, '127.0.0.1');
      socket.on('error', () => undefined);
      await new Promise((r) => socket.once('connect', r));
      return socket;
    };
    const first = await open();
    const second = await open();
    // Both held by the server (a request answered on each), then a third connection.
    for (const s of [first, second]) s.write('GET /held HTTP/1.1\r\nHost: proxy\r\n\r\n');
    await new Promise<void>((resolve) => {
      const check = () => (upstream.seen.length >= 2 ? resolve() : setTimeout(check, 20));
      check();
    });
    const third = await open();
    let thirdData = '';
    third.on('data', (c: Buffer) => (thirdData += c.toString('latin1')));
    third.write('GET /third HTTP/1.1\r\nHost: proxy\r\n\r\n');
    await new Promise((resolve) => third.on('close', resolve));
    expect(thirdData).toBe('');
    expect(upstream.seen.map((s) => s.url)).not.toContain('/third');

    first.destroy();
    await new Promise((r) => first.once('close', r));
    // The server notices the freed slot once its side of the socket is closed: retry until it does.
    let status = 0;
    const deadline = Date.now() + 10_000;
    while (status !== 200 && Date.now() < deadline) {
      status = (await exchange('GET /after HTTP/1.1\r\nHost: proxy\r\nConnection: close\r\n\r\n')).status;
      if (status !== 200) await new Promise((r) => setTimeout(r, 50));
    }
    expect(status).toBe(200);
    second.destroy();
  }, 30_000);
});
