import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { createForwarder, staticTokenSource, type TokenStatusLike } from '@auth-sidecars/proxy-kit';
import { createLogger, createMetrics } from '@auth-sidecars/service-kit';
import { startOpenAiUpstream, type OpenAiUpstream } from '@auth-sidecars/testkit/openai-upstream';
import { createListener } from '../src/app.js';
import { loadPromSidecarConfig } from '../src/config.js';

let upstream: OpenAiUpstream;
let server: http.Server;
let url: string;
let status: TokenStatusLike;
let closeForwarder: () => Promise<void>;

beforeEach(async () => {
  // The stand-in's echo route shows exactly what reached the upstream.
  upstream = await startOpenAiUpstream({ verify: async () => ({ aud: 'x' }) });
  const target = `${upstream.url}/echo`;
  const config = loadPromSidecarConfig({ PROMETHEUS_QUERY_ENDPOINT: target });
  status = {
    valid: true,
    expiresAt: new Date(Date.now() + 1800_000),
    refreshAt: undefined,
    lastError: undefined,
    consecutiveFailures: 0,
  };
  const tokens = { ...staticTokenSource('tok'), status: () => status };
  const forwarder = createForwarder({ target, tokens });
  closeForwarder = () => forwarder.close();
  const logger = createLogger({
    service: 'prom-sidecar',
    stream: new Writable({ write: (_c, _e, cb) => cb() }),
  });
  server = http.createServer(
    createListener(config, { tokens, forwarder, logger, metrics: createMetrics('prom-sidecar') }),
  );
  server.listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterEach(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
  await closeForwarder();
  await upstream.close();
});

interface Echo {
  method: string;
  url: string;
  body: string;
  headers: Record<string, string>;
}

describe('prom-sidecar app', () => {
  it.each([
    '/api/v1/query?query=up',
    '/api/v1/query_range?query=up&start=1&end=2&step=1',
    '/api/v1/series?match[]=up',
    '/api/v1/labels',
    '/api/v1/label/job/values',
    '/api/v1/metadata?metric=up',
  ])('forwards GET %s with the bearer', async (path) => {
    const res = await fetch(`${url}${path}`, { headers: { authorization: 'Bearer grafana' } });
    expect(res.status).toBe(200);
    const echoed = (await res.json()) as Echo;
    expect(echoed.url).toBe(`/echo${path}`);
    expect(echoed.headers.authorization).toBe('Bearer tok');
  });

  it('forwards a POST form body byte for byte', async () => {
    const form = 'query=sum%28rate%28http_requests_total%5B5m%5D%29%29&time=1757257215.123';
    const res = await fetch(`${url}/api/v1/query`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: form,
    });
    const echoed = (await res.json()) as Echo;
    expect(echoed.method).toBe('POST');
    expect(echoed.body).toBe(form);
    expect(echoed.headers['content-type']).toBe('application/x-www-form-urlencoded');
  });

  it.each([
    '/api/v1/admin/tsdb/snapshot',
    '/federate',
    '/api/v1/write',
    '/api/v1/label/../values',
    '/api/v1/label/a%2F..%2Fb/values',
    '/',
  ])('answers 404 JSON for %s without forwarding', async (path) => {
    const res = await fetch(`${url}${path}`, { method: 'POST' });
    expect(res.status).toBe(404);
    const body = (await res.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe('not_found');
    expect(body.error.message).toMatch(/only the Prometheus read API/);
    expect(upstream.requests).toHaveLength(0);
  });

  it('answers 405 for other methods on the read API', async () => {
    const res = await fetch(`${url}/api/v1/query`, { method: 'DELETE' });
    expect(res.status).toBe(405);
    expect(res.headers.get('allow')).toBe('GET, POST');
    expect(upstream.requests).toHaveLength(0);
  });

  it('serves the seed /health (200/503) and the probes', async () => {
    const ok = await fetch(`${url}/health`);
    expect(ok.status).toBe(200);
    const body = (await ok.json()) as Record<string, unknown>;
    expect(Object.keys(body).sort()).toEqual([
      'expires_at',
      'status',
      'time_to_expiry',
      'timestamp',
      'token_valid',
    ]);
    expect(body).toMatchObject({ status: 'healthy', token_valid: true });
    expect(body.time_to_expiry).toMatch(/^0:(29|30):\d\d(\.\d{6})?$/);
    expect((await fetch(`${url}/readyz`)).status).toBe(200);
    status = { ...status, valid: false };
    const down = await fetch(`${url}/health`);
    expect(down.status).toBe(503);
    expect(((await down.json()) as { token_valid: boolean }).token_valid).toBe(false);
    expect((await fetch(`${url}/readyz`)).status).toBe(503);
    expect((await fetch(`${url}/livez`)).status).toBe(200);
    expect(await (await fetch(`${url}/metrics`)).text()).toContain('http_request_duration_seconds');
  });
});
