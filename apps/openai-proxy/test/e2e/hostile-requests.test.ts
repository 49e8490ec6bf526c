// Hostile requests against the built openai-proxy (raw sockets; the upstream records what it gets):
// targets that are not a path, TRACE and CONNECT are refused at entry and never forwarded with the
// bearer, WebSocket handshakes included; slow headers get 408 within CLIENT_HEADERS_TIMEOUT; CLIENT_MAX_CONNECTIONS caps clients.
import net from 'node:net';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startDevEntra, type DevEntra } from '@auth-sidecars/dev-entra';
import { launchApp, type LaunchedProcess } from '@auth-sidecars/testkit/process';
import {
  hostileRequests,
  parseRawResponse,
  rawExchange,
  startRecordingUpstream,
  type RecordingUpstream,
} from '@auth-sidecars/testkit/raw-http';

const ENTRY = join(import.meta.dirname, '../../dist/main.js');
const FORWARDED_PATH = '/openai/deployments/d/chat/completions?api-version=2024-10-21';
const REALTIME_PATH = '/openai/realtime?api-version=2024-10-01-preview&deployment=gpt-4o-realtime-preview';

let entra: DevEntra;
let upstream: RecordingUpstream;
let dir: string;
let app: LaunchedProcess;

beforeAll(async () => {
  entra = await startDevEntra();
  const cert = await entra.createClientCertificate();
  const { clientId } = entra.registerApp({ certificatePem: cert.certPem, name: 'openai-proxy' });
  dir = await mkdtemp(join(tmpdir(), 'openai-proxy-hostile-'));
  const certPath = join(dir, 'cert.pem');
  await writeFile(certPath, cert.pem);
  upstream = await startRecordingUpstream();
  app = await launchApp(ENTRY, {
    env: {
      AZURE_CLIENT_ID: clientId,
      AZURE_TENANT_ID: entra.tenantId,
      AZURE_CERTIFICATE_PATH: certPath,
      AZURE_AUTHORITY_HOST: entra.url,
      NODE_EXTRA_CA_CERTS: entra.caPath,
      API_BASE_URL: upstream.url,
      HOST: '127.0.0.1',
      PORT: '0',
      CLIENT_HEADERS_TIMEOUT: '1s',
      CLIENT_MAX_CONNECTIONS: '2',
    },
  });
}, 60_000);

afterEach(() => {
  upstream.seen.length = 0;
});

afterAll(async () => {
  await app?.close();
  await upstream?.close();
  await entra?.close();
  await rm(dir, { recursive: true, force: true });
});

describe('openai-proxy refuses what it must not forward', () => {
  it('control: a request for the forwarded path reaches the upstream with the bearer', async () => {
    const res = await rawExchange(
      app.url,
      `GET ${FORWARDED_PATH} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`,
    );
    expect(res.status).toBe(200);
    expect(upstream.seen).toEqual([
      expect.objectContaining({
        url: expect.stringMatching(/^\//),
        authorization: expect.stringMatching(/^Bearer ey/),
      }),
    ]);
  });

  it.each(hostileRequests(FORWARDED_PATH).map((h) => [h.name, h] as const))(
    '%s: refused, never forwarded, the bearer never echoed',
    async (_name, hostile) => {
      const res = await rawExchange(app.url, hostile.request);
      expect(res.status).toBe(hostile.status);
      expect(JSON.parse(res.body)).toMatchObject({
        error: { code: hostile.status === 405 ? 'method_not_allowed' : 'invalid_request_target' },
      });
      expect(upstream.seen).toEqual([]);
      expect(res.data).not.toMatch(/Bearer ey/);
    },
  );

  // The Realtime API's WebSocket upgrades: the same refusals, and never a tunnel to another target.
  it.each(hostileRequests(REALTIME_PATH).map((h) => [h.name, h] as const))(
    '%s as a WebSocket handshake: refused like any request, never forwarded',
    async (_name, hostile) => {
      const lineEnd = hostile.request.indexOf('\r\n') + 2;
      const handshake =
        hostile.request.slice(0, lineEnd) +
        'Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n' +
        'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n' +
        hostile.request.slice(lineEnd);
      const res = await rawExchange(app.url, handshake);
      expect(res.status).toBe(hostile.status);
      expect(JSON.parse(res.body)).toMatchObject({
        error: { code: hostile.status === 405 ? 'method_not_allowed' : 'invalid_request_target' },
      });
      expect(upstream.seen).toEqual([]);
      expect(res.data).not.toMatch(/Bearer ey/);
    },
  );

  it('slow headers: 408 after CLIENT_HEADERS_TIMEOUT, not after the keep-alive timeout', async () => {
    const socket = net.connect(Number(new URL(app.url).port), '127.0.0.1');
    socket.on('error', () => undefined);
    let data = '';
    socket.on('data', (c: Buffer) => (data += c.toString('latin1')));
    socket.write(`GET ${FORWARDED_PATH} HTTP/1.1\r\nHost: x\r\n`);
    const drip = setInterval(() => socket.write('X-Drip: 1\r\n'), 300);
    const started = Date.now();
    await new Promise((resolve) => socket.on('close', resolve));
    clearInterval(drip);
    expect(parseRawResponse(data).status).toBe(408);
    // 1 s configured (checked every second); generous room for a busy machine, far from 66 s.
    expect(Date.now() - started).toBeLessThan(15_000);
    expect(upstream.seen).toEqual([]);
  }, 30_000);

  it('CLIENT_MAX_CONNECTIONS: a connection beyond the cap is closed without an answer', async () => {
    const port = Number(new URL(app.url).port);
    const held: net.Socket[] = [];
    for (let i = 0; i < 2; i++) {
      const s = net.connect(port, '127.0.0.1');
      s.on('error', () => undefined);
      await new Promise((resolve) => s.once('connect', resolve));
      s.write(`GET ${FORWARDED_PATH} HTTP/1.1\r\nHost: x\r\n\r\n`); // answered, then kept alive
      held.push(s);
    }
    const deadline = Date.now() + 10_000;
    while (upstream.seen.length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    const beyond = await rawExchange(app.url, `GET ${FORWARDED_PATH} HTTP/1.1\r\nHost: x\r\n\r\n`);
    expect(beyond.data).toBe('');
    expect(upstream.seen).toHaveLength(2);
    for (const s of held) s.destroy();
  }, 30_000);
});
