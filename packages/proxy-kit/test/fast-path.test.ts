import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { createLogger, createMetrics, ServiceUnavailableError } from '@auth-sidecars/service-kit';
import { startOpenAiUpstream, type OpenAiUpstream } from '@auth-sidecars/testkit/openai-upstream';
import { createForwarder, proxyListener, staticTokenSource, type Forwarder } from '../src/index.js';
import { until } from '@auth-sidecars/testkit/wait';
import { rawRequest } from './helpers.js';

let upstream: OpenAiUpstream;
let server: http.Server;
let url: string;
let forwarder: Forwarder;
const seen: string[] = [];

async function listen(listener: http.RequestListener) {
  server = http.createServer(listener);
  server.listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

beforeEach(async () => {
  seen.length = 0;
  upstream = await startOpenAiUpstream({ verify: async () => ({ aud: 'x' }) });
  forwarder = createForwarder({ target: upstream.url, tokens: staticTokenSource('tok') });
});

afterEach(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
  await forwarder.close();
  await upstream.close();
});

describe('proxyListener', () => {
  const app: http.RequestListener = (_req, res) => {
    seen.push('app');
    res.end('from app');
  };
  const lines: Array<Record<string, unknown>> = [];
  const logger = createLogger({
    service: 'test',
    level: 'debug',
    stream: new Writable({
      write(chunk: Buffer, _enc, cb) {
        for (const line of chunk.toString().split('\n')) if (line) lines.push(JSON.parse(line));
        cb();
      },
    }),
  });
  const options = (fwd: Forwarder) => ({
    app,
    proxied: (req: http.IncomingMessage) => req.url !== '/health',
    route: 'proxy',
    forwarder: fwd,
    logger,
    metrics: createMetrics('test'),
    quietPaths: ['/health'],
  });

  it("sends proxied requests through service-kit's request chain to the forwarder, the rest to the app", async () => {
    await listen(proxyListener(options(forwarder)));
    const proxied = await rawRequest(`${url}/v1/models?x=1`);
    expect(proxied.status).toBe(200);
    expect(proxied.headers['x-request-id']).toMatch(/\S/);
    expect(upstream.requests.at(-1)?.headers.authorization).toBe('Bearer tok');
    const local = await rawRequest(`${url}/health`);
    expect(local.body).toBe('from app');
    expect(seen).toEqual(['app']);
    // The forwarded request has service-kit's request line, with its path and without its query.
    await until(() => lines.some((l) => l.message === 'request' && l.path === '/v1/models'));
    expect(lines.find((l) => l.path === '/v1/models')).toMatchObject({ method: 'GET', status: 200 });
  });

  it('turns errors of the token source into service-kit JSON errors', async () => {
    const tokenless = createForwarder({
      target: upstream.url,
      tokens: {
        getToken: () => Promise.reject(new ServiceUnavailableError('no token', 'token_unavailable')),
        invalidate: () => Promise.reject(new ServiceUnavailableError('no token', 'token_unavailable')),
      },
    });
    try {
      await listen(proxyListener(options(tokenless)));
      const res = await rawRequest(`${url}/v1/models`);
      expect(res.status).toBe(503);
      expect(JSON.parse(res.body)).toEqual({ error: { code: 'token_unavailable', message: 'no token' } });
      expect(upstream.requests).toHaveLength(0);
    } finally {
      await tokenless.close();
    }
  });
});
