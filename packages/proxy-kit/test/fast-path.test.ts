import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { ServiceUnavailableError } from '@auth-sidecars/service-kit';
import { startOpenAiUpstream, type OpenAiUpstream } from '@auth-sidecars/testkit/openai-upstream';
import {
  createForwarder,
  fastPathListener,
  staticTokenSource,
  type Forwarder,
  type PlainMiddleware,
} from '../src/index.js';
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

describe('fastPathListener', () => {
  const app: http.RequestListener = (_req, res) => {
    seen.push('app');
    res.end('from app');
  };
  const recorder: PlainMiddleware = (req, res, next) => {
    seen.push(
      `mw ${(req as { originalUrl?: string }).originalUrl} ${(res as { locals?: { route?: string } }).locals?.route}`,
    );
    res.setHeader('x-request-id', 'r1');
    next();
  };

  it('sends proxied requests through the middleware to the forwarder, the rest to the app', async () => {
    await listen(
      fastPathListener({
        app,
        proxied: (req) => req.url !== '/health',
        middleware: [recorder],
        route: 'proxy',
        forwarder,
      }),
    );
    const proxied = await rawRequest(`${url}/v1/models?x=1`);
    expect(proxied.status).toBe(200);
    expect(proxied.headers['x-request-id']).toBe('r1');
    expect(upstream.requests.at(-1)?.headers.authorization).toBe('Bearer tok');
    const local = await rawRequest(`${url}/health`);
    expect(local.body).toBe('from app');
    expect(seen).toEqual(['mw /v1/models?x=1 proxy', 'app']);
  });

  it('turns errors from the middleware or the forwarder into service-kit JSON errors', async () => {
    const failing: PlainMiddleware = (_req, _res, next) =>
      next(new ServiceUnavailableError('no token', 'token_unavailable'));
    await listen(
      fastPathListener({ app, proxied: () => true, middleware: [failing], route: 'proxy', forwarder }),
    );
    const res = await rawRequest(`${url}/v1/models`);
    expect(res.status).toBe(503);
    expect(JSON.parse(res.body)).toEqual({ error: { code: 'token_unavailable', message: 'no token' } });
    expect(upstream.requests).toHaveLength(0);
  });
});
