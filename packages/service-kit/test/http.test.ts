import express from 'express';
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
