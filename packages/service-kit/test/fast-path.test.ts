// baseFastPathListener behind serve(): claimed requests skip the express app but keep the request
// id, request log and metrics; each route answers errors in its own shape.
import { BadRequestError } from '../src/errors.js';
import { baseFastPathListener, sendJson, type FastRoute } from '../src/fast-path.js';
import { createMetrics } from '../src/metrics.js';
import { serve, type RunningServer } from '../src/server.js';
import { captureLogger, sample, until } from './helpers.js';

let server: RunningServer;
const capture = captureLogger('info');
const metrics = createMetrics('fast-path-test');
const appSaw: string[] = [];

const routes: Record<string, FastRoute> = {
  '/ok': { route: '/ok', handle: (req, res) => sendJson(res, 200, { id: (req as { id?: string }).id }) },
  '/bad': {
    route: '/bad',
    handle: (_req, _res, fail) => fail(new BadRequestError('scope is required', 'invalid_scope')),
    errorResponse: (err, req) => ({
      status: 400,
      headers: { 'x-shape': 'own' },
      body: { problem: (err as Error).message, correlationId: (req as { id?: string }).id },
    }),
  },
  '/silent': {
    route: 'silent',
    requestLog: false,
    handle: (req, res) => sendJson(res, req.headers['x-fail'] ? 403 : 200, { ok: true }),
  },
  '/boom': {
    route: '/boom',
    handle: () => {
      throw new Error('client_secret=hunter2 went wrong');
    },
  },
};

beforeAll(async () => {
  const listener = baseFastPathListener({
    app: (req, res) => {
      appSaw.push(req.url ?? '');
      res.end('from app');
    },
    match: (req) => routes[req.url ?? ''],
    logger: capture.logger,
    metrics,
    quietPaths: ['/ok'],
  });
  server = await serve(listener, { host: '127.0.0.1', port: 0, logger: capture.logger });
});

afterAll(async () => {
  await server.close();
});

describe('baseFastPathListener', () => {
  it('answers claimed requests with a request id, request metrics and no express', async () => {
    const res = await fetch(`${server.url}/ok`, { headers: { 'x-request-id': 'abc-123' } });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-request-id')).toBe('abc-123');
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(await res.json()).toEqual({ id: 'abc-123' });
    const text = await metrics.registry.metrics();
    expect(
      sample(text, 'http_request_duration_seconds_count', { method: 'GET', route: '/ok', status: '200' }),
    ).toBe(1);
    expect(appSaw).toEqual([]);
  });

  it('sends what match() does not claim to the app', async () => {
    const res = await fetch(`${server.url}/elsewhere`);
    expect(await res.text()).toBe('from app');
    expect(appSaw).toEqual(['/elsewhere']);
  });

  it("answers a route's errors in its own shape, and logs the request line of a failure", async () => {
    const res = await fetch(`${server.url}/bad`);
    expect(res.status).toBe(400);
    expect(res.headers.get('x-shape')).toBe('own');
    const body = (await res.json()) as Record<string, unknown>;
    expect(body).toEqual({ problem: 'scope is required', correlationId: res.headers.get('x-request-id') });
    await until(() => capture.entries().some((e) => e.message === 'request' && e.path === '/bad'));
    expect(capture.entries().find((e) => e.path === '/bad')).toMatchObject({ status: 400, level: 'info' });
  });

  it('a handler that throws gets a 500 without detail; the error is logged, redacted', async () => {
    const res = await fetch(`${server.url}/boom`);
    expect(res.status).toBe(500);
    expect(await res.json()).toEqual({ error: { code: 'internal_error', message: 'internal error' } });
    await until(() => capture.entries().some((e) => e.message === 'request failed'));
    expect(capture.entries().find((e) => e.message === 'request failed')).toMatchObject({
      level: 'error',
      path: '/boom',
    });
    expect(capture.text()).not.toContain('hunter2');
  });

  it('quiet paths are not request-logged when they succeed', async () => {
    await fetch(`${server.url}/ok`);
    await fetch(`${server.url}/bad`);
    await until(() => capture.entries().filter((e) => e.path === '/bad').length >= 2);
    expect(capture.entries().some((e) => e.path === '/ok')).toBe(false);
  });

  it('a route without request log still gets its request id and metrics, whatever its status', async () => {
    const ok = await fetch(`${server.url}/silent`);
    const denied = await fetch(`${server.url}/silent`, { headers: { 'x-fail': '1' } });
    expect([ok.status, denied.status]).toEqual([200, 403]);
    expect(denied.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    // A later request's line shows that the logger has caught up with the earlier ones.
    const badLines = () => capture.entries().filter((e) => e.path === '/bad').length;
    const before = badLines();
    await fetch(`${server.url}/bad`);
    await until(() => badLines() > before);
    expect(capture.entries().filter((e) => e.path === '/silent')).toEqual([]);
    const text = await metrics.registry.metrics();
    for (const status of ['200', '403'])
      expect(
        sample(text, 'http_request_duration_seconds_count', { method: 'GET', route: 'silent', status }),
      ).toBe(1);
  });
});
