import http from 'node:http';
import { once } from 'node:events';
import { webcrypto } from 'node:crypto';
import https from 'node:https';
import type { Socket } from 'node:net';
import * as x509 from '@peculiar/x509';
import express from 'express';
import { serve } from '../src/server.js';
import { captureLogger, sleep, until } from './helpers.js';

/** A plain HTTP GET that reports headers, body so far, and whether the stream completed. */
function get(url: string, agent?: http.Agent) {
  const result = {
    status: 0,
    headers: {} as http.IncomingHttpHeaders,
    body: '',
    complete: false,
    error: undefined as Error | undefined,
  };
  const headersSeen = new Promise<void>((resolve) => {
    const req = http.get(url, { agent: agent ?? false }, (res) => {
      result.status = res.statusCode ?? 0;
      result.headers = res.headers;
      resolve();
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (result.body += chunk));
      res.on('end', () => (result.complete = true));
      res.on('error', (e) => (result.error = e));
    });
    req.on('error', (e) => {
      result.error = e;
      resolve();
    });
  });
  const done = new Promise<typeof result>((resolve) => {
    const check = setInterval(() => {
      if (result.complete || result.error) {
        clearInterval(check);
        resolve(result);
      }
    }, 5);
  });
  return { result, headersSeen, done };
}

function testApp() {
  const app = express();
  let started = 0;
  app.get('/slow', async (req, res) => {
    started++;
    await sleep(Number(req.query.ms ?? 500));
    res.send('slow done');
  });
  app.get('/sse', async (req, res) => {
    started++;
    res.set({ 'content-type': 'text/event-stream', 'cache-control': 'no-cache' }).flushHeaders();
    const events = Number(req.query.events ?? 1e9);
    for (let i = 0; i < events && !res.destroyed; i++) {
      res.write(`data: ${i}\n\n`);
      await sleep(Number(req.query.interval ?? 100));
    }
    res.end('data: end\n\n');
  });
  app.get('/fast', (_req, res) => {
    res.send('fast');
  });
  return { app, started: () => started };
}

describe('serve', () => {
  it('listens on an ephemeral loopback port and logs the listening line with the url', async () => {
    const capture = captureLogger();
    const running = await serve(testApp().app, { host: '127.0.0.1', port: 0, logger: capture.logger });
    expect(running.port).toBeGreaterThan(0);
    expect(running.url).toBe(`http://127.0.0.1:${running.port}`);
    await until(() => capture.entries().some((e) => e.message === 'listening'));
    expect(capture.entries().find((e) => e.message === 'listening')).toMatchObject({
      level: 'info',
      url: running.url,
    });
    expect(running.server.keepAliveTimeout).toBeGreaterThanOrEqual(60_000);
    // Headers must arrive within 12 s of a request's first byte, whatever the keep-alive (slowloris).
    expect(running.server.headersTimeout).toBe(12_000);
    expect(await (await fetch(`${running.url}/fast`)).text()).toBe('fast');
    expect(await running.close()).toBe(true);
  });

  it('rejects when the port is taken', async () => {
    const logger = captureLogger().logger;
    const first = await serve(testApp().app, { host: '127.0.0.1', port: 0, logger });
    await expect(serve(testApp().app, { host: '127.0.0.1', port: first.port, logger })).rejects.toThrow(
      /EADDRINUSE/,
    );
    await first.close();
  });

  it('serves HTTPS with the given certificate', async () => {
    const { cert, key } = await selfSigned();
    const running = await serve(testApp().app, {
      host: '127.0.0.1',
      port: 0,
      logger: captureLogger().logger,
      tls: { cert, key },
    });
    expect(running.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    const body = await new Promise<string>((resolve, reject) => {
      https
        .get(`${running.url}/fast`, { ca: cert, agent: false }, (res) => {
          let text = '';
          res.on('data', (c: Buffer) => (text += c.toString()));
          res.on('end', () => resolve(text));
        })
        .on('error', reject);
    });
    expect(body).toBe('fast');
    expect(await running.close()).toBe(true);
  });

  it('close() lets an in-flight request finish, refuses new connections, and closes idle keep-alive sockets at once', async () => {
    const { app, started } = testApp();
    const running = await serve(app, {
      host: '127.0.0.1',
      port: 0,
      logger: captureLogger().logger,
      shutdownTimeoutMs: 5_000,
    });
    const agent = new http.Agent({ keepAlive: true });
    // An idle keep-alive connection: must not hold up the shutdown.
    const idle = get(`${running.url}/fast`, agent);
    expect((await idle.done).body).toBe('fast');
    const slow = get(`${running.url}/slow?ms=700`);
    await until(() => started() === 1);
    const t0 = Date.now();
    const closing = running.close();
    await sleep(50);
    const late = get(`${running.url}/fast`);
    expect((await late.done).error).toMatchObject({ code: 'ECONNREFUSED' });
    const finished = await slow.done;
    expect(finished).toMatchObject({ status: 200, body: 'slow done', complete: true });
    // The response written during shutdown tells the client not to reuse the connection.
    expect(finished.headers.connection).toBe('close');
    expect(await closing).toBe(true);
    const elapsed = Date.now() - t0;
    expect(elapsed).toBeGreaterThanOrEqual(550);
    expect(elapsed).toBeLessThan(4_000);
    agent.destroy();
  });

  it('close() with nothing in flight resolves promptly even with idle keep-alive connections', async () => {
    const running = await serve(testApp().app, {
      host: '127.0.0.1',
      port: 0,
      logger: captureLogger().logger,
      shutdownTimeoutMs: 5_000,
    });
    const agent = new http.Agent({ keepAlive: true });
    await Promise.all([get(`${running.url}/fast`, agent).done, get(`${running.url}/fast`, agent).done]);
    const t0 = Date.now();
    expect(await running.close()).toBe(true);
    expect(Date.now() - t0).toBeLessThan(1_500);
    agent.destroy();
  });

  it('an SSE stream open at close() may finish within the deadline', async () => {
    const { app, started } = testApp();
    const running = await serve(app, {
      host: '127.0.0.1',
      port: 0,
      logger: captureLogger().logger,
      shutdownTimeoutMs: 3_000,
    });
    const stream = get(`${running.url}/sse?events=8&interval=100`);
    await stream.headersSeen;
    await until(() => started() === 1 && stream.result.body.includes('data: 1'));
    const drained = await running.close();
    const result = await stream.done;
    expect(drained).toBe(true);
    expect(result.complete).toBe(true);
    expect(result.body).toContain('data: 7\n\n');
    expect(result.body.endsWith('data: end\n\n')).toBe(true);
  });

  it('an endless stream is cut at the deadline and close() reports it did not drain', async () => {
    const capture = captureLogger();
    const running = await serve(testApp().app, {
      host: '127.0.0.1',
      port: 0,
      logger: capture.logger,
      shutdownTimeoutMs: 600,
    });
    const stream = get(`${running.url}/sse?interval=50`);
    await stream.headersSeen;
    await until(() => stream.result.body.includes('data: 2'));
    const t0 = Date.now();
    const drained = await running.close();
    const elapsed = Date.now() - t0;
    const result = await stream.done;
    expect(drained).toBe(false);
    expect(elapsed).toBeGreaterThanOrEqual(550);
    expect(elapsed).toBeLessThan(3_000);
    expect(result.complete).toBe(false);
    expect(result.error).toBeDefined();
    // Events kept flowing until the deadline.
    expect(result.body).toContain('data: 8');
    await until(() =>
      capture.entries().some((e) => e.message === 'shutdown deadline reached, closing open connections'),
    );
  });

  it('close() is idempotent', async () => {
    const running = await serve(testApp().app, {
      host: '127.0.0.1',
      port: 0,
      logger: captureLogger().logger,
    });
    const [a, b] = await Promise.all([running.close(), running.close()]);
    expect([a, b]).toEqual([true, true]);
    expect(await running.close()).toBe(true);
    expect(running.server.listening).toBe(false);
  });

  it('destroys upgraded sockets at the deadline', async () => {
    const running = await serve(testApp().app, {
      host: '127.0.0.1',
      port: 0,
      logger: captureLogger().logger,
      shutdownTimeoutMs: 300,
    });
    running.server.on('upgrade', (_req, socket) => {
      socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: test\r\nConnection: Upgrade\r\n\r\n');
    });
    const req = http.request(`${running.url}/ws`, {
      headers: { connection: 'upgrade', upgrade: 'test' },
      agent: false,
    });
    req.end();
    const [, socket] = (await once(req, 'upgrade')) as [unknown, Socket];
    const socketClosed = once(socket, 'close');
    expect(await running.close()).toBe(false);
    await socketClosed;
  });
});

/** A throwaway ECDSA certificate for 127.0.0.1, generated at test time. */
async function selfSigned(): Promise<{ cert: string; key: string }> {
  const alg = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
  const keys = await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify']);
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: '01',
    name: 'CN=127.0.0.1',
    notBefore: new Date(Date.now() - 60_000),
    notAfter: new Date(Date.now() + 3_600_000),
    signingAlgorithm: alg,
    keys,
    extensions: [new x509.SubjectAlternativeNameExtension([{ type: 'ip', value: '127.0.0.1' }])],
  });
  const pkcs8 = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey)).toString('base64');
  const key = `-----BEGIN PRIVATE KEY-----\n${pkcs8.match(/.{1,64}/g)!.join('\n')}\n-----END PRIVATE KEY-----\n`;
  return { cert: cert.toString('pem'), key };
}
