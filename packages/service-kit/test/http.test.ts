import type { IncomingMessage, ServerResponse } from 'node:http';
import express from 'express';
import type { Logger } from '../src/logger.js';
import { AppError, AuthError, BadRequestError, TooManyRequestsError, UpstreamError } from '../src/errors.js';
import { baseMiddleware, errorHandler, notFoundHandler, routeLabel, REQUEST_ID_HEADER } from '../src/http.js';
import { createMetrics } from '../src/metrics.js';
import { serve, type RunningServer } from '../src/server.js';
import { captureLogger, sample, until } from './helpers.js';

const JWT = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJzZWNyZXQtc3ViIn0.c2lnbmF0dXJlVmFsdWU';

describe('baseMiddleware, notFoundHandler, errorHandler', () => {
  const capture = captureLogger('debug');
  const metrics = createMetrics('http-test');
  let running: RunningServer;

  beforeAll(async () => {
    const app = express();
    const middleware = [
      ...baseMiddleware({ logger: capture.logger, metrics }),
      express.json({ limit: '1kb' }),
    ];
    app.use(middleware);
    app.get('/hello', (req, res) => {
      req.log!.info('inside handler');
      res.json({ id: req.id });
    });
    app.post('/echo', (req, res) => {
      res.json(req.body);
    });
    app.get('/auth', () => {
      throw new AuthError('token missing', 'unauthorized', { 'www-authenticate': 'Bearer realm="x"' });
    });
    app.get('/bad', () => {
      throw new BadRequestError('scope is required', 'invalid_request');
    });
    app.get('/limited', () => {
      throw new TooManyRequestsError(2.2);
    });
    app.get('/upstream', async () => {
      throw new UpstreamError('upstream refused the connection');
    });
    app.get('/hidden', () => {
      throw new AppError(500, 'db_failure', `password=hunter2 token ${JWT}`);
    });
    app.get('/crash', async () => {
      throw new Error(`kaboom with ${JWT}`);
    });
    app.get('/midstream', (_req, res, next) => {
      res.write('partial');
      setTimeout(() => next(new Error('broke mid-stream')), 10);
    });
    app.get('/http-error', () => {
      throw Object.assign(new Error('Range Not Satisfiable: bytes=99-'), { status: 416, expose: true });
    });
    app.use('/proxied', routeLabel('proxy'), (_req, res) => {
      res.send('proxied');
    });
    app.use(notFoundHandler());
    app.use(errorHandler(capture.logger));
    running = await serve(app, { host: '127.0.0.1', port: 0, logger: captureLogger().logger });
  });
  afterAll(async () => {
    await running.close();
  });

  async function call(path: string, init?: RequestInit) {
    const res = await fetch(`${running.url}${path}`, init);
    const text = await res.text();
    return {
      status: res.status,
      headers: res.headers,
      text,
      body: text.startsWith('{') ? (JSON.parse(text) as unknown) : undefined,
    };
  }

  it('echoes a sane x-request-id and uses it in the handler and the request log', async () => {
    const res = await call('/hello?code=supersecretcode', {
      headers: { [REQUEST_ID_HEADER]: 'abc-123.def' },
    });
    expect(res.headers.get(REQUEST_ID_HEADER)).toBe('abc-123.def');
    expect(res.body).toEqual({ id: 'abc-123.def' });
    await until(() =>
      capture.entries().some((e) => e.message === 'request' && e.requestId === 'abc-123.def'),
    );
    const inside = capture.entries().find((e) => e.message === 'inside handler');
    expect(inside).toMatchObject({ requestId: 'abc-123.def' });
    const line = capture.entries().find((e) => e.message === 'request' && e.requestId === 'abc-123.def')!;
    expect(line).toMatchObject({ level: 'info', method: 'GET', path: '/hello', status: 200 });
    expect(typeof line.durationMs).toBe('number');
    expect(capture.text()).not.toContain('supersecretcode');
  });

  it('replaces an insane or missing request id with a UUID', async () => {
    const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
    const bad = await call('/hello', { headers: { [REQUEST_ID_HEADER]: 'x'.repeat(300) } });
    expect(bad.headers.get(REQUEST_ID_HEADER)).toMatch(uuid);
    const injected = await call('/hello', { headers: { [REQUEST_ID_HEADER]: 'a b"}{' } });
    expect(injected.headers.get(REQUEST_ID_HEADER)).toMatch(uuid);
    const none = await call('/hello');
    expect(none.headers.get(REQUEST_ID_HEADER)).toMatch(uuid);
    expect(none.headers.get(REQUEST_ID_HEADER)).not.toBe(bad.headers.get(REQUEST_ID_HEADER));
  });

  it('turns AppErrors into status, headers and { error: { code, message } }', async () => {
    const auth = await call('/auth');
    expect(auth.status).toBe(401);
    expect(auth.headers.get('www-authenticate')).toBe('Bearer realm="x"');
    expect(auth.headers.get('content-type')).toMatch(/application\/json/);
    expect(auth.body).toEqual({ error: { code: 'unauthorized', message: 'token missing' } });
    expect((await call('/bad')).body).toEqual({
      error: { code: 'invalid_request', message: 'scope is required' },
    });
    const limited = await call('/limited');
    expect(limited.status).toBe(429);
    expect(limited.headers.get('retry-after')).toBe('3');
    const upstream = await call('/upstream');
    expect(upstream.status).toBe(502);
    expect(upstream.body).toEqual({
      error: { code: 'bad_gateway', message: 'upstream refused the connection' },
    });
  });

  it('hides messages of non-exposed and unknown errors, logging them with stack server-side', async () => {
    const hidden = await call('/hidden');
    expect(hidden.status).toBe(500);
    expect(hidden.body).toEqual({ error: { code: 'db_failure', message: 'internal error' } });
    const crash = await call('/crash');
    expect(crash.status).toBe(500);
    expect(crash.body).toEqual({ error: { code: 'internal_error', message: 'internal error' } });
    for (const r of [hidden, crash]) expect(r.text).not.toMatch(/kaboom|hunter2|eyJ|at /);
    await until(() => capture.entries().some((e) => e.message === 'request failed' && e.path === '/crash'));
    const logged = capture.entries().find((e) => e.message === 'request failed' && e.path === '/crash')!;
    expect(logged).toMatchObject({ level: 'error', status: 500, errorCode: 'internal_error' });
    expect(String((logged.err as { stack: string }).stack)).toMatch(/kaboom with \[REDACTED\]\n\s+at /);
    expect(capture.text()).not.toContain(JWT);
    expect(capture.text()).not.toContain('hunter2');
  });

  it('answers malformed JSON with 400 and too large bodies with 413, never echoing the body', async () => {
    const malformed = await call('/echo', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"client_secret": "s3cr3tvalue',
    });
    expect(malformed.status).toBe(400);
    expect(malformed.body).toEqual({
      error: { code: 'invalid_body', message: 'request body could not be parsed' },
    });
    expect(malformed.text).not.toContain('s3cr3tvalue');
    const large = await call('/echo', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ a: 'x'.repeat(5000) }),
    });
    expect(large.status).toBe(413);
    expect(large.body).toEqual({ error: { code: 'payload_too_large', message: 'request body too large' } });
    const ok = await call('/echo', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"a":1}',
    });
    expect(ok.body).toEqual({ a: 1 });
  });

  it("keeps the status of other middleware's client errors with a fixed message", async () => {
    const res = await call('/http-error');
    expect(res.status).toBe(416);
    expect(res.body).toEqual({ error: { code: 'range_not_satisfiable', message: 'range not satisfiable' } });
  });

  it('answers unknown routes with a JSON 404 without the query string', async () => {
    const res = await call('/missing/path?access_token=abc');
    expect(res.status).toBe(404);
    expect(res.body).toEqual({ error: { code: 'not_found', message: 'no route for GET /missing/path' } });
  });

  it('cuts the connection when an error happens after the response started', async () => {
    await expect(fetch(`${running.url}/midstream`).then((r) => r.text())).rejects.toThrow();
  });

  it('labels metrics with the route template, routeLabel, or unmatched', async () => {
    await call('/proxied/anything/here');
    const text = await metrics.registry.getSingleMetricAsString('http_request_duration_seconds');
    const count = (method: string, route: string, status: string) =>
      sample(text, 'http_request_duration_seconds_count', { method, route, status, service: 'http-test' });
    expect(count('GET', 'proxy', '200')).toBe(1);
    expect(count('GET', '/hello', '200')).toBeGreaterThanOrEqual(1);
    expect(count('GET', 'unmatched', '404')).toBe(1);
    // body-parser rejects before any route matches.
    expect(count('POST', 'unmatched', '413')).toBe(1);
  });
});

describe('baseMiddleware per-request cost', () => {
  it('creates req.log on first use only, the same child for the whole request, also in sub-apps', async () => {
    const capture = captureLogger('debug');
    const child = capture.logger.child.bind(capture.logger);
    let children = 0;
    capture.logger.child = (meta: object) => {
      children++;
      return child(meta);
    };
    const app = express();
    app.use(baseMiddleware({ logger: capture.logger }));
    app.get('/quiet', (_req, res) => {
      res.json({ ok: true });
    });
    app.get('/uses-log', (req, res) => {
      req.log!.info('first');
      req.log!.info('second');
      res.json({ same: req.log === req.log });
    });
    app.get('/replaced', (req, res) => {
      req.log = capture.logger.child({ requestId: req.id, component: 'custom' });
      res.json({ ok: true });
    });
    const sub = express();
    sub.get('/inner', (req, res) => {
      req.log!.info('from sub-app');
      res.json({ ok: true });
    });
    app.use('/sub', sub);
    const running = await serve(app, { host: '127.0.0.1', port: 0, logger: captureLogger().logger });
    try {
      const get = (path: string) =>
        fetch(`${running.url}${path}`, {
          headers: { [REQUEST_ID_HEADER]: `id-${path.slice(1).replace('/', '-')}` },
        });
      await get('/quiet');
      await until(() => capture.entries().some((e) => e.path === '/quiet'));
      expect(children).toBe(0);
      // The request line carries the request id without a child logger.
      expect(capture.entries().find((e) => e.path === '/quiet')).toMatchObject({
        message: 'request',
        requestId: 'id-quiet',
        status: 200,
      });

      expect(await (await get('/uses-log')).json()).toEqual({ same: true });
      await until(() => capture.entries().some((e) => e.path === '/uses-log'));
      expect(children).toBe(1);
      const byRequest = (id: string) => capture.entries().filter((e) => e.requestId === id);
      expect(byRequest('id-uses-log').map((e) => e.message)).toEqual(['first', 'second', 'request']);

      await get('/replaced');
      await until(() => capture.entries().some((e) => e.path === '/replaced'));
      expect(capture.entries().find((e) => e.path === '/replaced')).toMatchObject({
        requestId: 'id-replaced',
        component: 'custom',
      });

      await get('/sub/inner');
      await until(() => capture.entries().some((e) => e.path === '/sub/inner'));
      expect(byRequest('id-sub-inner').map((e) => e.message)).toEqual(['from sub-app', 'request']);
    } finally {
      await running.close();
    }
  });

  it('creates req.log on demand for plain node:http listeners served by serve(), at once elsewhere', async () => {
    const capture = captureLogger('debug');
    const child = capture.logger.child.bind(capture.logger);
    let children = 0;
    capture.logger.child = (meta: object) => {
      children++;
      return child(meta);
    };
    const chain = baseMiddleware({ logger: capture.logger }) as unknown as Array<
      (req: IncomingMessage, res: ServerResponse, next: () => void) => void
    >;
    // As a proxy's fast path runs baseMiddleware without express.
    const listener = (req: IncomingMessage, res: ServerResponse) => {
      (req as IncomingMessage & { originalUrl?: string }).originalUrl = req.url;
      (res as ServerResponse & { locals?: object }).locals = {};
      chain[0]!(req, res, () =>
        chain[1]!(req, res, () => {
          const withLog = req as IncomingMessage & { log?: Logger; id?: string };
          if (req.url === '/log') withLog.log!.info('plain listener', { same: withLog.log === withLog.log });
          res.end('ok');
        }),
      );
    };
    const running = await serve(listener, { host: '127.0.0.1', port: 0, logger: captureLogger().logger });
    try {
      await fetch(`${running.url}/quiet`).then((r) => r.text());
      await until(() => capture.entries().some((e) => e.path === '/quiet'));
      expect(children).toBe(0);
      await fetch(`${running.url}/log`).then((r) => r.text());
      await until(() => capture.entries().some((e) => e.path === '/log'));
      expect(children).toBe(1);
      const line = capture.entries().find((e) => e.message === 'plain listener');
      expect(line).toMatchObject({ same: true });
      expect(line!.requestId).toBe(capture.entries().find((e) => e.path === '/log')!.requestId);
    } finally {
      await running.close();
    }

    // A request object from elsewhere (plain http.createServer, a hand-made object) gets its child at once.
    const req = { headers: {} } as unknown as express.Request;
    const res = { setHeader: () => undefined } as unknown as express.Response;
    chain[0]!(req as unknown as IncomingMessage, res as unknown as ServerResponse, () => undefined);
    expect(children).toBe(2);
    req.log!.info('plain object request');
    await until(() =>
      capture.entries().some((e) => e.requestId === req.id && e.message === 'plain object request'),
    );
  });
});
