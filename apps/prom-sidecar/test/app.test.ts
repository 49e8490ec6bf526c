import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { createForwarder, staticTokenSource, type TokenStatusLike } from '@auth-sidecars/proxy-kit';
import { createLogger, createMetrics } from '@auth-sidecars/service-kit';
import { startOpenAiUpstream, type OpenAiUpstream } from '@auth-sidecars/testkit/openai-upstream';
import { createListener } from '../src/app.js';
import { loadPromSidecarConfig } from '../src/config.js';
import { READ_API } from '../src/constants.js';

let upstream: OpenAiUpstream;
let server: http.Server;
let url: string;
let status: TokenStatusLike;
let closeForwarder: () => Promise<void>;

/** The app on loopback, in front of the stand-in's echo route (it shows what reached the upstream). */
async function startApp(env: Record<string, string> = {}): Promise<void> {
  const target = `${upstream.url}/echo`;
  const config = loadPromSidecarConfig({ PROMETHEUS_QUERY_ENDPOINT: target, ...env });
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
}

async function stopApp(): Promise<void> {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
  await closeForwarder();
}

beforeEach(async () => {
  upstream = await startOpenAiUpstream({ verify: async () => ({ aud: 'x' }) });
  status = {
    valid: true,
    expiresAt: new Date(Date.now() + 1800_000),
    refreshAt: undefined,
    lastError: undefined,
    consecutiveFailures: 0,
  };
  await startApp();
});

afterEach(async () => {
  await stopApp();
  await upstream.close();
});

function rawStatus(method: string, path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request(`${url}/`, { method, path }, (res) => {
      res.resume();
      res.once('end', () => resolve(res.statusCode ?? 0));
    });
    req.once('error', reject);
    req.end();
  });
}

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
    '/api/v1/query_exemplars?query=up&start=1&end=2',
    '/api/v1/series?match[]=up',
    '/api/v1/labels',
    '/api/v1/label/job/values',
    '/api/v1/metadata?metric=up',
    '/api/v1/rules?type=alert',
    '/api/v1/alerts',
    '/api/v1/status/buildinfo',
    '/api/v1/format_query?query=sum(up)by(job)',
    '/api/v1/parse_query?query=up',
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
    '/api/v1/status/config',
    '/api/v1/status/flags',
    '/api/v1/targets',
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

  // One table decides both the fast path (forwarded) and the express answers (404/405).
  it.each(READ_API.map((r) => [r.name, r] as const))(
    '%s: its methods are forwarded, any other is a 405 naming them',
    async (_name, route) => {
      const path = route.name.replace('<name>', 'job');
      for (const method of ['GET', 'POST', 'PUT', 'DELETE', 'PATCH']) {
        upstream.requests.length = 0;
        const res = await fetch(`${url}${path}`, { method, body: method === 'GET' ? undefined : 'a=1' });
        if (route.methods.includes(method)) {
          expect([method, res.status]).toEqual([method, 200]);
          expect(((await res.json()) as Echo).method).toBe(method);
          expect(upstream.requests).toHaveLength(1);
        } else {
          expect([method, res.status]).toEqual([method, 405]);
          expect(res.headers.get('allow')).toBe(route.methods.join(', '));
          expect(upstream.requests).toHaveLength(0);
        }
      }
    },
  );

  it('answers 405 for other methods on the read API', async () => {
    const res = await fetch(`${url}/api/v1/query`, { method: 'DELETE' });
    expect(res.status).toBe(405);
    expect(res.headers.get('allow')).toBe('GET, POST');
    expect(upstream.requests).toHaveLength(0);
  });

  it('forwards GET /api/v1/status/config only with ALLOW_STATUS_CONFIG', async () => {
    expect((await fetch(`${url}/api/v1/status/config`)).status).toBe(404);
    await stopApp();
    await startApp({ ALLOW_STATUS_CONFIG: 'true' });
    const res = await fetch(`${url}/api/v1/status/config`);
    expect(res.status).toBe(200);
    expect(((await res.json()) as Echo).url).toBe('/echo/api/v1/status/config');
    expect((await fetch(`${url}/api/v1/status/config`, { method: 'POST' })).status).toBe(405);
  });

  it('forwards ALLOW_PATH_PREFIXES with any method, on segment boundaries, never escaping them', async () => {
    await stopApp();
    await startApp({ ALLOW_PATH_PREFIXES: '/api/v1/write, /custom/' });
    const write = await fetch(`${url}/api/v1/write`, { method: 'POST', body: 'snappy' });
    expect(write.status).toBe(200);
    expect(await write.json()).toMatchObject({ method: 'POST', url: '/echo/api/v1/write', body: 'snappy' });
    expect((await fetch(`${url}/api/v1/write/sub?x=1`, { method: 'PUT', body: 'b' })).status).toBe(200);
    expect((await fetch(`${url}/custom/a/b`, { method: 'DELETE' })).status).toBe(200);
    const forwarded = upstream.requests.length;
    for (const path of [
      '/api/v1/writer',
      '/custom',
      '/api/v1/write/../admin/tsdb/delete_series',
      '/api/v1/write/%2e%2e/admin/tsdb/delete_series',
      '/api/v1/write/..%2fadmin',
      '/custom/./x',
    ]) {
      // node:http sends the path as written (fetch would resolve the dot segments itself).
      expect([path, await rawStatus('POST', path)]).toEqual([path, 404]);
    }
    expect(upstream.requests).toHaveLength(forwarded);
  });

  it('never forwards its own probes, even when every path is allowed', async () => {
    await stopApp();
    await startApp({ ALLOW_PATH_PREFIXES: '/' });
    expect((await fetch(`${url}/anything/at/all`)).status).toBe(200);
    for (const probe of ['/health', '/ready', '/readyz', '/livez', '/metrics']) {
      const res = await fetch(`${url}${probe}`);
      expect([probe, res.status]).toEqual([probe, 200]);
      expect(res.headers.get('content-type')).not.toBeNull();
    }
    expect(upstream.requests).toHaveLength(1);
  });

  it("answers aad-auth-proxy's /ready as /readyz: 200 with a token, 503 without", async () => {
    const ok = await fetch(`${url}/ready`);
    expect(ok.status).toBe(200);
    expect(await ok.json()).toMatchObject({ status: 'ready' });
    status = { ...status, valid: false };
    const down = await fetch(`${url}/ready`);
    expect(down.status).toBe(503);
    expect(await down.json()).toMatchObject({ status: 'not_ready', details: { tokenValid: false } });
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
