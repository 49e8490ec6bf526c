import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { startOpenAiUpstream, type OpenAiUpstream } from '@auth-sidecars/testkit/openai-upstream';
import { TokenProvider } from '@auth-sidecars/auth-core';
import { staticTokenSource, type BearerSource, type ForwardResult } from '../src/index.js';
import { rawRequest, sleep, startTestProxy, type TestProxy } from './helpers.js';

// Tokens the stand-in accepts; rotation is simulated by the static source's `next`.
const accepted = new Set(['token-1', 'token-2', 'token-3']);
const verify = async (token: string) => {
  if (!accepted.has(token)) throw new Error('unknown token');
  return { aud: 'test' };
};

let upstream: OpenAiUpstream;
const proxies: TestProxy[] = [];

async function proxyTo(target: string, extra: Partial<Parameters<typeof startTestProxy>[0]> = {}) {
  let n = 1;
  const tokens = staticTokenSource('token-1', () => `token-${++n}`);
  const results: ForwardResult[] = [];
  const proxy = await startTestProxy({ target, tokens, onResult: (r) => results.push(r), ...extra });
  proxies.push(proxy);
  return { proxy, tokens, results };
}

beforeEach(async () => {
  upstream = await startOpenAiUpstream({ verify });
});

afterEach(async () => {
  await Promise.all(proxies.splice(0).map((p) => p.close()));
  await upstream.close();
});

describe('forwarding', () => {
  it('injects the bearer, strips client credentials and hop-by-hop headers, keeps path, query and body', async () => {
    const { proxy } = await proxyTo(upstream.url);
    const res = await rawRequest(`${proxy.url}/echo/a/b?x=1&y=%20z`, {
      method: 'POST',
      headers: {
        authorization: 'Bearer client-secret',
        'api-key': 'client-key',
        'x-custom': 'yes',
        connection: 'keep-alive, x-hop',
        'x-hop': 'private',
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: 'query=up&time=1',
    });
    expect(res.status).toBe(200);
    const echoed = JSON.parse(res.body) as {
      method: string;
      url: string;
      headers: Record<string, string>;
      body: string;
    };
    expect(echoed.method).toBe('POST');
    expect(echoed.url).toBe('/echo/a/b?x=1&y=%20z');
    expect(echoed.body).toBe('query=up&time=1');
    expect(echoed.headers.authorization).toBe('Bearer token-1');
    expect(echoed.headers['api-key']).toBeUndefined();
    expect(echoed.headers['x-hop']).toBeUndefined();
    expect(echoed.headers['x-custom']).toBe('yes');
    expect(echoed.headers.host).toBe(new URL(upstream.url).host);
  });

  it('prefixes the target base path', async () => {
    const { proxy } = await proxyTo(`${upstream.url}/echo/base/`);
    const res = await rawRequest(`${proxy.url}/v1/models?api-version=2024-10-21`);
    expect((JSON.parse(res.body) as { url: string }).url).toBe('/echo/base/v1/models?api-version=2024-10-21');
  });

  it('passes 429 with rate-limit headers and 5xx through unchanged, without retrying', async () => {
    const { proxy } = await proxyTo(upstream.url);
    upstream.scriptNext(
      {
        status: 429,
        headers: {
          'retry-after': '7',
          'retry-after-ms': '6500',
          'x-ratelimit-remaining-requests': '0',
          'x-ratelimit-reset-tokens': '12s',
        },
        body: '{"error":{"code":"429","message":"slow down"}}',
      },
      { status: 503, body: '{"error":"busy"}' },
    );
    const limited = await rawRequest(`${proxy.url}/v1/models`);
    expect(limited.status).toBe(429);
    expect(limited.headers['retry-after']).toBe('7');
    expect(limited.headers['retry-after-ms']).toBe('6500');
    expect(limited.headers['x-ratelimit-remaining-requests']).toBe('0');
    expect(limited.headers['x-ratelimit-reset-tokens']).toBe('12s');
    expect(limited.body).toBe('{"error":{"code":"429","message":"slow down"}}');
    const busy = await rawRequest(`${proxy.url}/v1/models`);
    expect(busy.status).toBe(503);
    expect(busy.body).toBe('{"error":"busy"}');
    expect(upstream.requests).toHaveLength(2);
  });

  it('forwards SSE chunks as they arrive, keeping the upstream timing', async () => {
    const { proxy } = await proxyTo(upstream.url);
    upstream.setStreamTiming(150, ['a', 'b', 'c', 'd']);
    const arrivals: number[] = [];
    const texts: string[] = [];
    await new Promise<void>((resolve, reject) => {
      const req = http.request(
        `${proxy.url}/v1/chat/completions`,
        { method: 'POST', headers: { 'content-type': 'application/json' } },
        (res) => {
          expect(res.headers['content-type']).toBe('text/event-stream');
          res.on('data', (c: Buffer) => {
            arrivals.push(performance.now());
            texts.push(c.toString('utf8'));
          });
          res.on('end', resolve);
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.end(JSON.stringify({ model: 'm', stream: true, messages: [] }));
    });
    // One client read per upstream chunk: no buffering or coalescing across the 150 ms gaps.
    expect(texts[0]).toContain('"content":"a"');
    expect(texts[3]).toContain('"content":"d"');
    const gaps = arrivals.slice(1, 4).map((t, i) => t - arrivals[i]!);
    for (const gap of gaps) expect(gap).toBeGreaterThan(100);
    expect(texts.join('')).toContain('data: [DONE]');
  });

  it('streams a large upload through without holding it', async () => {
    const { proxy } = await proxyTo(upstream.url);
    const size = 10 * 1024 * 1024;
    const res = await new Promise<{ bytes: number }>((resolve, reject) => {
      const req = http.request(
        `${proxy.url}/upload`,
        { method: 'POST', headers: { 'content-type': 'application/octet-stream' } },
        (r) => {
          const chunks: Buffer[] = [];
          r.on('data', (c: Buffer) => chunks.push(c));
          r.on('end', () => resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')) as { bytes: number }));
        },
      );
      req.on('error', reject);
      const block = Buffer.alloc(64 * 1024, 7);
      let sent = 0;
      const write = () => {
        while (sent < size) {
          sent += block.length;
          if (!req.write(block)) {
            req.once('drain', write);
            return;
          }
        }
        req.end();
      };
      write();
    });
    expect(res.bytes).toBe(size);
  });
});

describe('an upstream that answers before it has read the body', () => {
  it('the rest of the body is read and dropped, and the next request on the connection is answered', async () => {
    // The fuzz suite's find: the upstream answered 404 to a large POST without reading it. The
    // forwarder had started streaming the body, so node left it to the forwarder, which stopped
    // reading once the answer was sent: the connection's next request was never parsed, never
    // answered, and the connection stayed open (a graceful shutdown waited for it).
    const early = http.createServer((req, res) => {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end('{"error":"not here"}');
    });
    early.listen(0, '127.0.0.1');
    await new Promise((r) => early.once('listening', r));
    try {
      const { proxy } = await proxyTo(`http://127.0.0.1:${(early.address() as AddressInfo).port}`);
      const { port } = new URL(proxy.url);
      const socket = net.connect(Number(port), '127.0.0.1');
      socket.on('error', () => undefined);
      let data = '';
      socket.on('data', (c: Buffer) => (data += c.toString('latin1')));
      const responses = () => data.match(/^HTTP\/1\.1 \d{3}/gm) ?? [];
      const body = Buffer.alloc(4 * 1024 * 1024, 0x61);
      socket.write(`POST /upload HTTP/1.1\r\nHost: proxy\r\nContent-Length: ${body.length}\r\n\r\n`);
      socket.write(body);
      socket.write('GET /after HTTP/1.1\r\nHost: proxy\r\nConnection: close\r\n\r\n');
      const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
      const deadline = Date.now() + 20_000;
      while (responses().length < 2 && Date.now() < deadline) await sleep(50);
      socket.destroy();
      await closed;
      expect(responses()).toEqual(['HTTP/1.1 404', 'HTTP/1.1 404']);
    } finally {
      early.closeAllConnections();
      await new Promise((r) => early.close(r));
    }
  }, 30_000);
});

describe('401 from upstream', () => {
  it('forces one token refresh and replays a GET once', async () => {
    const { proxy, tokens, results } = await proxyTo(upstream.url);
    expect((await rawRequest(`${proxy.url}/v1/models`)).status).toBe(200);
    upstream.revokeSeenTokens();
    const res = await rawRequest(`${proxy.url}/v1/models`);
    expect(res.status).toBe(200);
    expect(tokens.invalidations).toBe(1);
    expect(upstream.requests.map((r) => [r.status, r.token])).toEqual([
      [200, 'token-1'],
      [401, 'token-1'],
      [200, 'token-2'],
    ]);
    expect(results[1]).toEqual({ status: 200, replayed: true });
  });

  it.each([
    ['read whole', undefined],
    ['streamed', 0],
  ])('replays a small POST body byte for byte (%s)', async (_name, smallBodyBytes) => {
    const { proxy } = await proxyTo(upstream.url, { smallBodyBytes });
    await rawRequest(`${proxy.url}/v1/models`);
    upstream.revokeSeenTokens();
    const res = await rawRequest(`${proxy.url}/echo/form`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'query=sum(up)',
    });
    expect(res.status).toBe(200);
    expect((JSON.parse(res.body) as { body: string }).body).toBe('query=sum(up)');
  });

  it('passes a second 401 through instead of looping', async () => {
    accepted.delete('token-2');
    try {
      const { proxy, tokens } = await proxyTo(upstream.url);
      await rawRequest(`${proxy.url}/v1/models`);
      upstream.revokeSeenTokens();
      const res = await rawRequest(`${proxy.url}/v1/models`);
      expect(res.status).toBe(401);
      expect(res.headers['www-authenticate']).toBe('Bearer error="invalid_token"');
      expect(tokens.invalidations).toBe(1);
    } finally {
      accepted.add('token-2');
    }
  });

  it('does not replay a body larger than the replay limit, but refreshes for the next request', async () => {
    // smallBodyBytes 0: the body streams, so only the replay limit decides.
    const { proxy, tokens } = await proxyTo(upstream.url, {
      replayBodyLimitBytes: 16,
      smallBodyBytes: 0,
    });
    await rawRequest(`${proxy.url}/v1/models`);
    upstream.revokeSeenTokens();
    const res = await rawRequest(`${proxy.url}/echo/big`, { method: 'POST', body: 'x'.repeat(100) });
    expect(res.status).toBe(401);
    expect(tokens.invalidations).toBe(1);
    expect(upstream.requests.filter((r) => r.url === '/echo/big')).toHaveLength(1);
    const retry = await rawRequest(`${proxy.url}/echo/big`, { method: 'POST', body: 'x'.repeat(100) });
    expect(retry.status).toBe(200);
  });
});

describe('401 from upstream: the token source owns the forced-refresh throttle', () => {
  it('a source that holds its refresh back (same token again): the 401 passes through intact, no replay', async () => {
    let invalidations = 0;
    const holding: BearerSource = {
      getToken: () => Promise.resolve({ token: 'token-1' }),
      current: () => ({ token: 'token-1' }),
      invalidate: () => {
        invalidations += 1;
        return Promise.resolve({ token: 'token-1' });
      },
    };
    const results: ForwardResult[] = [];
    const proxy = await startTestProxy({
      target: upstream.url,
      tokens: holding,
      onResult: (r) => results.push(r),
    });
    proxies.push(proxy);
    await rawRequest(`${proxy.url}/v1/models`);
    upstream.revokeSeenTokens();
    const res = await rawRequest(`${proxy.url}/v1/models`);
    expect(res.status).toBe(401);
    expect(res.headers['www-authenticate']).toBe('Bearer error="invalid_token"');
    expect(JSON.parse(res.body)).toMatchObject({ error: { code: '401' } });
    expect(invalidations).toBe(1);
    // Replaying with the token that was just refused would only double the upstream's load.
    expect(upstream.requests.map((r) => r.status)).toEqual([200, 401]);
    expect(results[1]).toEqual({ status: 401, replayed: false });
  });

  it("a 401 storm through auth-core's TokenProvider: one token request, every other 401 passed through", async () => {
    let issued = 0;
    // A hand-written credential (no SDK involved): each call is one token request to count.
    const credential: ConstructorParameters<typeof TokenProvider>[0]['credential'] = {
      getToken: () => {
        issued += 1;
        accepted.add(`idp-${issued}`);
        return Promise.resolve({ token: `idp-${issued}`, expiresOnTimestamp: Date.now() + 3_600_000 });
      },
    };
    const tokens = new TokenProvider({ credential, scope: 'api://test/.default' });
    await tokens.start();
    try {
      const proxy = await startTestProxy({ target: upstream.url, tokens });
      proxies.push(proxy);
      expect((await rawRequest(`${proxy.url}/v1/models`)).status).toBe(200);
      upstream.revokeSeenTokens(); // idp-1 refused from now on
      const first = await rawRequest(`${proxy.url}/v1/models`);
      expect(first.status).toBe(200); // forced refresh, replayed with idp-2
      upstream.revokeSeenTokens(); // idp-2 refused too: a storm of 401s
      const storm = await Promise.all(Array.from({ length: 20 }, () => rawRequest(`${proxy.url}/v1/models`)));
      expect(storm.map((r) => r.status)).toEqual(Array.from({ length: 20 }, () => 401));
      expect(issued).toBe(2); // startup + the first forced refresh; the storm asked the IdP nothing
    } finally {
      tokens.stop();
      accepted.delete('idp-1');
      accepted.delete('idp-2');
    }
  });

  it('a token source failing with a plain Error (no "token" in its message) is a 503, not a 502', async () => {
    const failing: BearerSource = {
      getToken: () => Promise.reject(new Error('IdP answered 500')),
      invalidate: () => Promise.reject(new Error('IdP answered 500')),
    };
    const proxy = await startTestProxy({ target: upstream.url, tokens: failing });
    proxies.push(proxy);
    const res = await rawRequest(`${proxy.url}/v1/models`);
    expect(res.status).toBe(503);
    expect(JSON.parse(res.body)).toEqual({
      error: { code: 'token_unavailable', message: 'no valid token for the upstream' },
    });
    expect(upstream.requests).toHaveLength(0);
  });
});

describe('failures', () => {
  it('answers 502 JSON when the upstream refuses connections', async () => {
    const closed = http.createServer();
    closed.listen(0, '127.0.0.1');
    await new Promise((r) => closed.once('listening', r));
    const { port } = closed.address() as AddressInfo;
    await new Promise((r) => closed.close(r));
    const { proxy } = await proxyTo(`http://127.0.0.1:${port}`);
    const res = await rawRequest(`${proxy.url}/v1/models`);
    expect(res.status).toBe(502);
    expect(JSON.parse(res.body)).toEqual({
      error: { code: 'bad_gateway', message: 'upstream unreachable (ECONNREFUSED)' },
    });
  });

  it('answers 504 when the response head does not come within the first-byte timeout', async () => {
    const { proxy } = await proxyTo(upstream.url, { timeouts: { firstByteMs: 200 } });
    const started = Date.now();
    const res = await rawRequest(`${proxy.url}/slow-headers?ms=3000`);
    expect(res.status).toBe(504);
    expect((JSON.parse(res.body) as { error: { code: string } }).error.code).toBe('gateway_timeout');
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('cuts a response whose body stalls longer than the idle timeout', async () => {
    const { proxy, results } = await proxyTo(upstream.url, { timeouts: { idleMs: 300 } });
    const outcome = await new Promise<string>((resolve) => {
      http
        .get(`${proxy.url}/stall-body`, (res) => {
          res.on('data', () => undefined);
          res.on('end', () => resolve('ended'));
          res.on('error', () => resolve('aborted'));
          res.on('aborted', () => resolve('aborted'));
        })
        .on('error', () => resolve('aborted'));
    });
    expect(outcome).toBe('aborted');
    expect(results[0]).toEqual({ status: 200, replayed: false, error: 'idle_timeout' });
  });

  it('answers the token source failure status when no token can be had', async () => {
    const { ServiceUnavailableError } = await import('@auth-sidecars/service-kit');
    const failing = {
      getToken: () => Promise.reject(new ServiceUnavailableError('no valid token', 'token_unavailable')),
      invalidate: () => Promise.reject(new Error('no')),
    };
    const proxy = await startTestProxy({ target: upstream.url, tokens: failing });
    proxies.push(proxy);
    const res = await rawRequest(`${proxy.url}/v1/models`);
    expect(res.status).toBe(503);
    expect(JSON.parse(res.body)).toEqual({ error: { code: 'token_unavailable', message: 'no valid token' } });
    expect(upstream.requests).toHaveLength(0);
  });

  it("answers auth-core's HTTP-free TokenUnavailableError as a 503 token_unavailable with its reason and retry-after", async () => {
    const { TokenUnavailableError } = await import('@auth-sidecars/auth-core');
    const unavailable = () =>
      Promise.reject(
        new TokenUnavailableError('api://x/.default', 'the IdP is down', { retryAt: Date.now() + 3_500 }),
      );
    const proxy = await startTestProxy({
      target: upstream.url,
      tokens: { getToken: unavailable, invalidate: unavailable },
    });
    proxies.push(proxy);
    const res = await rawRequest(`${proxy.url}/v1/models`);
    expect(res.status).toBe(503);
    expect(Number(res.headers['retry-after'])).toBeGreaterThanOrEqual(3);
    expect(JSON.parse(res.body)).toEqual({
      error: {
        code: 'token_unavailable',
        message: 'no valid access token for scope api://x/.default: the IdP is down',
      },
    });
    expect(upstream.requests).toHaveLength(0);
  });

  it('closes the upstream stream when the client goes away', async () => {
    const { proxy } = await proxyTo(upstream.url);
    upstream.setStreamTiming(
      100,
      Array.from({ length: 50 }, (_, i) => String(i)),
    );
    await new Promise<void>((resolve) => {
      const req = http.request(`${proxy.url}/v1/chat/completions`, { method: 'POST' }, (res) => {
        res.once('data', () => {
          req.destroy();
          resolve();
        });
      });
      req.end(JSON.stringify({ stream: true }));
    });
    for (let i = 0; i < 50 && upstream.inFlight() > 0; i += 1) await sleep(20);
    expect(upstream.inFlight()).toBe(0);
  });
});
