import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createForwarder, staticTokenSource, type TokenStatusLike } from '@auth-sidecars/proxy-kit';
import { createLogger, createMetrics } from '@auth-sidecars/service-kit';
import { startOpenAiUpstream, type OpenAiUpstream } from '@auth-sidecars/testkit/openai-upstream';
import { Writable } from 'node:stream';
import { createListener } from '../src/app.js';
import { loadOpenAiProxyConfig } from '../src/config.js';

let upstream: OpenAiUpstream;
let server: http.Server;
let url: string;
let status: TokenStatusLike;
let closeForwarder: () => Promise<void>;
let demands = 0;

beforeEach(async () => {
  upstream = await startOpenAiUpstream({
    verify: async (t) => (t === 'tok' ? { aud: 'x' } : Promise.reject(new Error('bad'))),
  });
  const config = loadOpenAiProxyConfig({
    API_BASE_URL: upstream.url,
    AZURE_CLIENT_ID: 'c',
    AZURE_TENANT_ID: 't',
    AZURE_CERTIFICATE_PATH: '/nope.pem',
  });
  const source = staticTokenSource('tok');
  status = {
    valid: true,
    expiresAt: new Date(Date.now() + 3600_000),
    refreshAt: undefined,
    lastError: undefined,
    consecutiveFailures: 0,
  };
  demands = 0;
  const tokens = {
    ...source,
    status: () => status,
    getToken: () => {
      demands += 1;
      return source.getToken();
    },
  };
  const forwarder = createForwarder({ target: upstream.url, tokens });
  closeForwarder = () => forwarder.close();
  const logger = createLogger({
    service: 'openai-proxy',
    stream: new Writable({ write: (_c, _e, cb) => cb() }),
  });
  server = http.createServer(
    createListener(config, { tokens, forwarder, logger, metrics: createMetrics('openai-proxy') }),
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

describe('openai-proxy app', () => {
  it('answers the seed health probe from the token status', async () => {
    const ok = await fetch(`${url}/health`);
    expect(ok.status).toBe(200);
    expect(await ok.json()).toEqual({ status: 'ok' });
    status = { ...status, valid: false };
    const down = await fetch(`${url}/health`);
    expect(down.status).toBe(503);
    expect(await down.json()).toEqual({ status: 'unavailable' });
    expect((await fetch(`${url}/readyz`)).status).toBe(503);
    expect((await fetch(`${url}/livez`)).status).toBe(200);
  });

  it('a probe without a valid token asks for one (an unready pod gets no other demand)', async () => {
    await fetch(`${url}/health`);
    await fetch(`${url}/readyz`);
    expect(demands).toBe(0);
    status = { ...status, valid: false };
    await fetch(`${url}/health`);
    await fetch(`${url}/readyz`);
    expect(demands).toBe(2);
  });

  it('forwards any other method and path with the query string and the sidecar bearer', async () => {
    const res = await fetch(`${url}/echo/openai/deployments/gpt/chat/completions?api-version=2024-10-21`, {
      method: 'PATCH',
      headers: { 'api-key': 'client', authorization: 'Bearer client' },
      body: '{"a":1}',
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-request-id')).toBeTruthy();
    const echoed = (await res.json()) as {
      method: string;
      url: string;
      body: string;
      headers: Record<string, string>;
    };
    expect(echoed).toMatchObject({
      method: 'PATCH',
      url: '/echo/openai/deployments/gpt/chat/completions?api-version=2024-10-21',
      body: '{"a":1}',
    });
    expect(echoed.headers.authorization).toBe('Bearer tok');
    expect(echoed.headers['api-key']).toBeUndefined();
  });

  it('passes upstream errors through unchanged and exports proxy metrics', async () => {
    upstream.scriptNext({ status: 400, body: '{"error":{"code":"content_filter"}}' });
    const res = await fetch(`${url}/v1/chat/completions`, { method: 'POST', body: '{}' });
    expect(res.status).toBe(400);
    expect(await res.text()).toBe('{"error":{"code":"content_filter"}}');
    const metrics = await (await fetch(`${url}/metrics`)).text();
    expect(metrics).toMatch(/http_request_duration_seconds_count\{[^}]*route="proxy"[^}]*status="400"/);
  });
});
