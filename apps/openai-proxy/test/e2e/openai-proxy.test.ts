// End to end: the built dist/main.js against dev-entra (real @azure/identity certificate flow over
// HTTPS) and the OpenAI-compatible stand-in, which verifies every bearer JWT it receives.
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startDevEntra, type DevEntra } from '@auth-sidecars/dev-entra';
import { startOpenAiUpstream, type OpenAiUpstream } from '@auth-sidecars/testkit/openai-upstream';
import { launchApp, type LaunchedProcess } from '@auth-sidecars/testkit/process';
import OpenAI, { AzureOpenAI } from 'openai';
import { OpenAIRealtimeWS } from 'openai/realtime/ws';
import WebSocket from 'ws';

const ENTRY = join(import.meta.dirname, '../../dist/main.js');
const AUDIENCE = 'https://cognitiveservices.azure.com';

let entra: DevEntra;
let upstream: OpenAiUpstream;
let dir: string;
let clientId: string;
let certPath: string;
const launched: LaunchedProcess[] = [];

async function start(
  env: Record<string, string | undefined> = {},
  waitForListening = true,
): Promise<LaunchedProcess> {
  const app = await launchApp(ENTRY, {
    env: {
      AZURE_CLIENT_ID: clientId,
      AZURE_TENANT_ID: entra.tenantId,
      AZURE_CERTIFICATE_PATH: certPath,
      AZURE_AUTHORITY_HOST: entra.url,
      NODE_EXTRA_CA_CERTS: entra.caPath,
      API_BASE_URL: upstream.url,
      HOST: '127.0.0.1',
      PORT: '0',
      ...env,
    },
    waitForListening,
  });
  launched.push(app);
  return app;
}

function rssKb(pid: number): number {
  return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
}

beforeAll(async () => {
  entra = await startDevEntra();
  const cert = await entra.createClientCertificate();
  clientId = entra.registerApp({ certificatePem: cert.certPem, name: 'openai-proxy' }).clientId;
  dir = await mkdtemp(join(tmpdir(), 'openai-proxy-e2e-'));
  certPath = join(dir, 'cert.pem');
  await writeFile(certPath, cert.pem);
  upstream = await startOpenAiUpstream({ verify: (t) => entra.verifyAccessToken(t, { audience: AUDIENCE }) });
});

afterEach(async () => {
  await Promise.all(launched.splice(0).map((p) => p.close()));
  upstream.requests.length = 0;
  upstream.webSockets.length = 0;
  upstream.setStreamTiming(50);
});

afterAll(async () => {
  await upstream.close();
  await entra.close();
  await rm(dir, { recursive: true, force: true });
});

describe('openai-proxy end to end', () => {
  it('serves /health and forwards a chat completion with a dev-entra bearer, client credentials stripped', async () => {
    const app = await start();
    const health = await fetch(`${app.url}/health`);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ status: 'ok' });

    const res = await fetch(
      `${app.url}/openai/deployments/gpt-4o-mini/chat/completions?api-version=2024-10-21`,
      {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'api-key': 'client-key',
          authorization: 'Bearer client-token',
        },
        body: JSON.stringify({ messages: [{ role: 'user', content: 'hi' }] }),
      },
    );
    expect(res.status).toBe(200);
    const body = (await res.json()) as { object: string; choices: Array<{ message: { content: string } }> };
    expect(body.object).toBe('chat.completion');
    const seen = upstream.requests.at(-1)!;
    expect(seen.url).toBe('/openai/deployments/gpt-4o-mini/chat/completions?api-version=2024-10-21');
    expect(seen.status).toBe(200);
    expect(seen.claims?.aud).toBe(AUDIENCE);
    expect(seen.claims?.appid ?? seen.claims?.azp).toBe(clientId);
    expect(seen.headers['api-key']).toBeUndefined();
    expect(seen.token).not.toBe('client-token');
  });

  it('echoes headers: hop-by-hop and credentials gone, everything else intact', async () => {
    const app = await start();
    const res = await fetch(`${app.url}/echo/x?q=1`, {
      headers: { 'x-trace': 'abc', 'api-key': 'k', 'user-agent': 'litellm' },
    });
    const echoed = (await res.json()) as { headers: Record<string, string>; url: string };
    expect(echoed.url).toBe('/echo/x?q=1');
    expect(echoed.headers['x-trace']).toBe('abc');
    expect(echoed.headers['user-agent']).toBe('litellm');
    expect(echoed.headers['api-key']).toBeUndefined();
    expect(echoed.headers.authorization).toMatch(/^Bearer ey/);
  });

  it('streams SSE chunks to the client with the upstream timing', async () => {
    const app = await start();
    upstream.setStreamTiming(200, ['one', 'two', 'three', 'four']);
    const arrivals: number[] = [];
    const chunks: string[] = [];
    await new Promise<void>((resolve, reject) => {
      const req = http.request(
        `${app.url}/v1/chat/completions`,
        { method: 'POST', headers: { 'content-type': 'application/json' } },
        (res) => {
          res.on('data', (c: Buffer) => {
            arrivals.push(performance.now());
            chunks.push(c.toString('utf8'));
          });
          res.on('end', resolve);
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.end(JSON.stringify({ stream: true, messages: [] }));
    });
    const text = chunks.join('');
    const order = ['one', 'two', 'three', 'four'].map((w) => text.indexOf(`"content":"${w}"`));
    expect(order.every((at, i) => at >= 0 && (i === 0 || at > order[i - 1]!))).toBe(true);
    // The events arrive as the upstream wrote them, 600 ms from first to last: a buffering proxy
    // would deliver them together. No bound on each gap: a busy machine may delay any one of them.
    const arrivedWith = (word: string) =>
      arrivals[chunks.findIndex((c) => c.includes(`"content":"${word}"`))]!;
    expect(arrivedWith('four') - arrivedWith('one')).toBeGreaterThan(300);
  });

  it('passes a 429 through with its rate-limit headers, without retrying', async () => {
    const app = await start();
    upstream.scriptNext({
      status: 429,
      headers: {
        'retry-after': '3',
        'retry-after-ms': '2500',
        'x-ratelimit-remaining-tokens': '0',
        'x-ratelimit-remaining-requests': '10',
      },
      body: '{"error":{"code":"429","message":"Rate limit"}}',
    });
    const res = await fetch(`${app.url}/v1/chat/completions`, { method: 'POST', body: '{"messages":[]}' });
    expect(res.status).toBe(429);
    expect(res.headers.get('retry-after')).toBe('3');
    expect(res.headers.get('retry-after-ms')).toBe('2500');
    expect(res.headers.get('x-ratelimit-remaining-tokens')).toBe('0');
    expect(res.headers.get('x-ratelimit-remaining-requests')).toBe('10');
    expect(await res.text()).toBe('{"error":{"code":"429","message":"Rate limit"}}');
    expect(upstream.requests).toHaveLength(1);
  });

  /** Uploads `size` bytes in 64 KiB blocks (paced when `paceMs` is set); samples the child's RSS meanwhile. */
  async function upload(app: LaunchedProcess, size: number, paceMs?: number) {
    const pid = app.child.pid!;
    const before = rssKb(pid);
    let peak = before;
    // What the upstream had received when the client had sent half: 0 for a store-and-forward proxy.
    let upstreamBytesAtHalf = -1;
    const result = await new Promise<{ bytes: number; sha256: string }>((resolve, reject) => {
      const req = http.request(
        `${app.url}/upload`,
        { method: 'POST', headers: { 'content-type': 'application/octet-stream', 'content-length': size } },
        (res) => {
          const parts: Buffer[] = [];
          res.on('data', (c: Buffer) => parts.push(c));
          res.on('end', () =>
            resolve(JSON.parse(Buffer.concat(parts).toString('utf8')) as { bytes: number; sha256: string }),
          );
        },
      );
      req.on('error', reject);
      const block = Buffer.alloc(64 * 1024, 1);
      let sent = 0;
      const pump = () => {
        peak = Math.max(peak, rssKb(pid));
        while (sent < size) {
          if (upstreamBytesAtHalf < 0 && sent >= size / 2) upstreamBytesAtHalf = upstream.uploadReceiving();
          sent += block.length;
          const more = req.write(block);
          const next = paceMs === undefined ? pump : () => setTimeout(pump, paceMs);
          if (!more) {
            req.once('drain', next);
            return;
          }
          if (paceMs !== undefined) {
            next();
            return;
          }
        }
        req.end();
      };
      pump();
    });
    return { result, upstreamBytesAtHalf, growthMb: (Math.max(peak, rssKb(pid)) - before) / 1024 };
  }

  it('streams a 10 MB upload to the upstream while the client is still sending', async () => {
    const app = await start();
    await upload(app, 64 * 1024); // token verified and connection pooled: what follows is streaming alone
    const size = 10 * 1024 * 1024;
    const { result, upstreamBytesAtHalf } = await upload(app, size, 10);
    expect(result.bytes).toBe(size);
    expect(upstream.uploads.at(-1)).toBe(size);
    expect(upstreamBytesAtHalf).toBeGreaterThan(0);
  });

  it('does not hold uploads in memory: 200 MB through it grow its RSS by far less', async () => {
    // Node keeps short-lived socket buffers until V8's external-memory GC trigger (tens of MB): a
    // paced 10 MB upload grows RSS by about 10 MB even though it streams (measured 9.7 to 10.8 MB), so
    // RSS tells a streaming proxy from a buffering one only with uploads well above that trigger.
    const app = await start();
    await upload(app, 4 * 1024 * 1024);
    const size = 200 * 1024 * 1024;
    const { result, growthMb } = await upload(app, size);
    expect(result.bytes).toBe(size);
    expect(growthMb).toBeLessThan(100);
  });

  it('on an upstream 401 forces one token refresh and replays once', async () => {
    const app = await start();
    expect((await fetch(`${app.url}/v1/models`)).status).toBe(200);
    const tokenRequestsBefore = entra.stats().tokenRequests;
    upstream.revokeSeenTokens();
    const res = await fetch(`${app.url}/v1/chat/completions`, { method: 'POST', body: '{"messages":[]}' });
    expect(res.status).toBe(200);
    expect(entra.stats().tokenRequests).toBe(tokenRequestsBefore + 1);
    const [rejected, replayed] = upstream.requests.slice(-2);
    expect(rejected!.status).toBe(401);
    expect(replayed!.status).toBe(200);
    expect(replayed!.token).not.toBe(rejected!.token);
  });

  it('answers 504 JSON when the upstream does not answer in time', async () => {
    const app = await start({ UPSTREAM_RESPONSE_TIMEOUT: '300ms' });
    const started = Date.now();
    const res = await fetch(`${app.url}/slow-headers?ms=5000`);
    expect(res.status).toBe(504);
    expect(await res.json()).toEqual({
      error: { code: 'gateway_timeout', message: 'upstream first-byte timeout' },
    });
    expect(Date.now() - started).toBeLessThan(3000);
  });

  it('answers 502 JSON when the upstream refuses the connection', async () => {
    const closed = http.createServer().listen(0, '127.0.0.1');
    await new Promise((r) => closed.once('listening', r));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((r) => closed.close(r));
    const app = await start({ API_BASE_URL: `http://127.0.0.1:${port}` });
    const res = await fetch(`${app.url}/v1/models`);
    expect(res.status).toBe(502);
    expect(await res.json()).toEqual({
      error: { code: 'bad_gateway', message: 'upstream unreachable (ECONNREFUSED)' },
    });
  });

  it('drains an open stream on SIGTERM, then exits 0', async () => {
    const app = await start();
    upstream.setStreamTiming(150, ['a', 'b', 'c', 'd', 'e', 'f']);
    let text = '';
    const done = new Promise<void>((resolve, reject) => {
      const req = http.request(`${app.url}/v1/chat/completions`, { method: 'POST' }, (res) => {
        res.once('data', () => app.child.kill('SIGTERM'));
        res.on('data', (c: Buffer) => (text += c.toString('utf8')));
        res.on('end', resolve);
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end(JSON.stringify({ stream: true }));
    });
    await done;
    expect(text).toContain('"content":"f"');
    expect(text).toContain('data: [DONE]');
    expect(await app.exited).toBe(0);
  });

  it('lets the real openai client complete a streamed chat through the proxy', async () => {
    const app = await start();
    upstream.setStreamTiming(10, ['Hello', ',', ' world']);
    const client = new OpenAI({ baseURL: `${app.url}/v1`, apiKey: 'not-a-real-key', maxRetries: 0 });
    const stream = await client.chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'hi' }],
      stream: true,
    });
    let content = '';
    for await (const chunk of stream) content += chunk.choices[0]?.delta?.content ?? '';
    expect(content).toBe('Hello, world');
    expect(upstream.requests.at(-1)?.headers.authorization).not.toContain('not-a-real-key');
  });

  it('exits non-zero with the reason when the first token cannot be had', async () => {
    const app = await start({ AZURE_CLIENT_ID: '99999999-9999-4999-8999-999999999999' }, false);
    const code = await app.exited;
    expect(code).not.toBe(0);
    expect(app.lines.join('\n')).toMatch(/token/i);
  });

  it('with START_WITHOUT_TOKEN starts unready and becomes ready once a token can be had', async () => {
    const pendingClient = '88888888-8888-4888-8888-888888888888';
    const app = await start({ AZURE_CLIENT_ID: pendingClient, START_WITHOUT_TOKEN: 'true' });
    expect((await fetch(`${app.url}/health`)).status).toBe(503);
    expect((await fetch(`${app.url}/readyz`)).status).toBe(503);
    const proxied = await fetch(`${app.url}/v1/models`);
    expect(proxied.status).toBe(503);
    expect(((await proxied.json()) as { error: { code: string } }).error.code).toBe('token_unavailable');
    const cert = readFileSync(certPath, 'utf8');
    entra.registerApp({ clientId: pendingClient, certificatePem: cert });
    let status = 0;
    for (let i = 0; i < 100 && status !== 200; i += 1) {
      await new Promise((r) => setTimeout(r, 200));
      status = (await fetch(`${app.url}/health`)).status;
    }
    expect(status).toBe(200);
    expect((await fetch(`${app.url}/v1/models`)).status).toBe(200);
  });

  it('exits 78 with what to set when the seed variables lack AZURE_CERTIFICATE_PATH (no silent fall-back)', async () => {
    const app = await start({ AZURE_CERTIFICATE_PATH: undefined }, false);
    expect(await app.exited).toBe(78);
    const stderr = app.lines.filter((l) => !l.startsWith('{')).join('\n');
    expect(stderr).toMatch(/AZURE_CERTIFICATE_PATH: required \(the path of the PEM file/);
    expect(stderr).toMatch(/AZURE_CREDENTIAL_KIND/);
    // It never got as far as asking for a token as some other identity.
    expect(app.lines.join('\n')).not.toMatch(/credential configured/);
  });

  it('uses another credential kind when AZURE_CREDENTIAL_KIND asks for it (client secret)', async () => {
    const secretApp = entra.registerApp({ name: 'openai-proxy-secret', clientSecret: 'proxy-secret-1' });
    const app = await start({
      AZURE_CERTIFICATE_PATH: undefined,
      AZURE_CREDENTIAL_KIND: 'client-secret',
      AZURE_CLIENT_ID: secretApp.clientId,
      AZURE_CLIENT_SECRET: 'proxy-secret-1',
    });
    const res = await fetch(`${app.url}/v1/models`);
    expect(res.status).toBe(200);
    const seen = upstream.requests.at(-1)!;
    expect(seen.claims?.appid ?? seen.claims?.azp).toBe(secretApp.clientId);
    expect(app.lines.join('\n')).not.toContain('proxy-secret-1');
  });

  describe('WebSocket passthrough (Realtime API)', () => {
    const REALTIME = '/openai/realtime?api-version=2024-10-01-preview&deployment=gpt-4o-realtime-preview';

    function open(url: string, headers: Record<string, string> = {}): Promise<WebSocket> {
      return new Promise((resolve, reject) => {
        const ws = new WebSocket(url, { headers });
        ws.once('open', () => resolve(ws));
        ws.once('unexpected-response', (_req, res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () =>
            reject(
              Object.assign(new Error('refused'), {
                status: res.statusCode,
                body: Buffer.concat(chunks).toString(),
              }),
            ),
          );
        });
        ws.once('error', reject);
      });
    }
    const message = (ws: WebSocket) =>
      new Promise<{ data: Buffer; binary: boolean }>((resolve) =>
        ws.once('message', (data, binary) => resolve({ data: data as Buffer, binary })),
      );
    const closed = (ws: WebSocket) =>
      new Promise<{ code: number; reason: string }>((resolve) =>
        ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })),
      );

    it('carries a session with the dev-entra bearer: frames echoed both ways, close codes both ways', async () => {
      const app = await start();
      const wsUrl = app.url.replace(/^http/, 'ws');
      const ws = await open(`${wsUrl}${REALTIME}`, {
        'api-key': 'client-key',
        authorization: 'Bearer client',
      });
      const session = upstream.webSockets.at(-1)!;
      expect(session.url).toBe(REALTIME);
      expect(session.claims?.aud).toBe(AUDIENCE);
      expect(session.claims?.appid ?? session.claims?.azp).toBe(clientId);
      expect(session.headers['api-key']).toBeUndefined();
      expect(session.headers.authorization).not.toBe('Bearer client');

      const text = message(ws);
      ws.send('{"type":"input_audio_buffer.append","audio":"AAAA"}');
      expect((await text).data.toString()).toBe('{"type":"input_audio_buffer.append","audio":"AAAA"}');
      const audio = Buffer.from(Array.from({ length: 48_000 }, (_, i) => i % 256));
      const binary = message(ws);
      ws.send(audio);
      const echoed = await binary;
      expect(echoed.binary).toBe(true);
      expect(echoed.data.equals(audio)).toBe(true);

      const byClient = closed(ws);
      ws.close(4001, 'client done');
      expect(await byClient).toEqual({ code: 4001, reason: 'client done' });
      const deadline = Date.now() + 10_000;
      while (session.closed === undefined && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 20));
      expect(session.closed).toEqual({ code: 4001, reason: 'client done', by: 'client' });

      const second = await open(`${wsUrl}${REALTIME}`);
      const byUpstream = closed(second);
      second.send('close 4002 upstream done');
      expect(await byUpstream).toEqual({ code: 4002, reason: 'upstream done' });
      // Each session was logged as opened and closed, without the query string (it may carry a key).
      await app.waitForLog((e) => e.message === 'websocket closed' && e.path === '/openai/realtime');
      expect(app.lines.join('\n')).not.toContain('deployment=gpt-4o-realtime-preview');
      const metrics = await (await fetch(`${app.url}/metrics`)).text();
      expect(metrics).toMatch(/proxy_upstream_responses_total\{status="101",outcome="ok"[^}]*\} 2\n/);
    });

    it('on SIGTERM an open session keeps flowing until SHUTDOWN_TIMEOUT, then is cut', async () => {
      const app = await start({ SHUTDOWN_TIMEOUT: '2s' });
      const ws = await open(`${app.url.replace(/^http/, 'ws')}${REALTIME}`);
      const cut = closed(ws);
      app.child.kill('SIGTERM');
      await app.waitForLog('closing');
      // Still carried during the drain.
      const echoed = message(ws);
      ws.send('during the drain');
      expect((await echoed).data.toString()).toBe('during the drain');
      expect((await cut).code).toBe(1006);
      expect(await app.exited).toBe(1);
      expect(
        app.logs().some((e) => e.message === 'shutdown deadline reached, closing open connections'),
      ).toBe(true);
    });

    it("a refused upgrade (token for another audience) comes back as the upstream's 401", async () => {
      const app = await start({ AZURE_SCOPE: 'api://some-other-api/.default' });
      const wsUrl = app.url.replace(/^http/, 'ws');
      const refused = (await open(`${wsUrl}${REALTIME}`).catch((err: unknown) => err)) as {
        status: number;
        body: string;
      };
      expect(refused.status).toBe(401);
      expect(JSON.parse(refused.body)).toMatchObject({ error: { code: '401' } });
      expect(upstream.webSockets).toHaveLength(0);
      // A plain request still works as before next to it (same token, same refusal).
      expect((await fetch(`${app.url}/v1/models`)).status).toBe(401);
    });

    it("the openai SDK's OpenAIRealtimeWS.azure talks through it (its wss:// URL over the sidecar's plain TCP)", async () => {
      const app = await start();
      const client = new AzureOpenAI({
        endpoint: app.url,
        apiKey: 'not-a-real-key',
        apiVersion: '2024-10-01-preview',
      });
      const rt = await OpenAIRealtimeWS.azure(client, {
        deploymentName: 'gpt-4o-realtime-preview',
        // The SDK always builds a wss:// URL; the sidecar listens on plain HTTP beside the app.
        options: { createConnection: (opts: net.NetConnectOpts) => net.connect(opts) } as object,
      });
      await new Promise<void>((resolve, reject) => {
        rt.socket.once('open', () => resolve());
        rt.socket.once('error', reject);
      });
      const event = new Promise<unknown>((resolve) => rt.on('event', resolve));
      rt.send({ type: 'session.update', session: { instructions: 'be brief' } } as never);
      expect(await event).toEqual({ type: 'session.update', session: { instructions: 'be brief' } });
      const session = upstream.webSockets.at(-1)!;
      expect(session.url).toBe(
        '/openai/realtime?api-version=2024-10-01-preview&deployment=gpt-4o-realtime-preview',
      );
      expect(session.headers['api-key']).toBeUndefined();
      expect(session.claims?.aud).toBe(AUDIENCE);
      const done = new Promise<number>((resolve) => rt.socket.once('close', (code: number) => resolve(code)));
      rt.close({ code: 1000, reason: 'bye' });
      expect(await done).toBe(1000);
    });
  });
});
