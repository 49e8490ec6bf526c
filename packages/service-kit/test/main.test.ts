// runMain through a real child process on this Node (process.execPath): exit codes, signals, logs.
import { fileURLToPath } from 'node:url';
import http from 'node:http';
import { launchApp, type LaunchedProcess } from '@auth-sidecars/testkit/process';
import { until } from './helpers.js';

const FIXTURE = fileURLToPath(new URL('./fixtures/app.mjs', import.meta.url));
const SECRET = 'fixtureS3cretValue-9f8e7d';
const baseEnv = {
  HOST: '127.0.0.1',
  PORT: '0',
  UPSTREAM_URL: 'https://upstream.example',
  FIXTURE_SECRET: SECRET,
};

function streamGet(url: string) {
  const result = { status: 0, body: '', complete: false, error: undefined as Error | undefined };
  const done = new Promise<typeof result>((resolve) => {
    http
      .get(url, { agent: false }, (res) => {
        result.status = res.statusCode ?? 0;
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (result.body += chunk));
        res.on('end', () => {
          result.complete = true;
          resolve(result);
        });
        res.on('error', (e) => {
          result.error = e;
          resolve(result);
        });
      })
      .on('error', (e) => {
        result.error = e;
        resolve(result);
      });
  });
  return { result, done };
}

describe('runMain', () => {
  let app: LaunchedProcess | undefined;
  afterEach(async () => {
    await app?.close(2_000);
    app = undefined;
  });

  it(`runs on Node 24 (${process.version})`, () => {
    expect(Number(process.versions.node.split('.')[0])).toBeGreaterThanOrEqual(24);
  });

  it('exits 78 with one message naming every missing or bad variable', async () => {
    app = await launchApp(FIXTURE, {
      env: { PORT: 'not-a-port', UPSTREAM_URL: 'nope' },
      waitForListening: false,
    });
    expect(await app.exited).toBe(78);
    const errors = app.logs().filter((l) => l.level === 'error');
    expect(errors).toHaveLength(1);
    expect(errors[0]!.message).toMatch(/^invalid configuration: /);
    for (const name of ['FIXTURE_SECRET: required but not set', 'PORT', 'UPSTREAM_URL'])
      expect(errors[0]!.message).toContain(name);
    expect(errors[0]!.issues).toHaveLength(3);
    // The plain-text copy on stderr, for people reading `kubectl logs` without a JSON viewer.
    const plain = app.lines.filter((l) => !l.startsWith('{')).join('\n');
    expect(plain).toMatch(/^fixture-app: invalid configuration:\n/);
    expect(plain).toContain('  - FIXTURE_SECRET: required but not set');
    expect(plain).toContain('  - PORT: expected a port number (0-65535)');
    expect(app.logs().some((l) => l.message === 'listening')).toBe(false);
  });

  it('exits 1 with the reason, redacted, when startup fails otherwise', async () => {
    app = await launchApp(FIXTURE, { env: { ...baseEnv, FAIL_STARTUP: 'yes' }, waitForListening: false });
    expect(await app.exited).toBe(1);
    const output = app.lines.join('\n');
    expect(output).toContain('startup failed: cannot reach https://upstream.example');
    expect(output).not.toContain(SECRET);
  });

  it('SIGTERM during a slow request lets it finish, then exits 0', async () => {
    app = await launchApp(FIXTURE, { env: baseEnv });
    const slow = streamGet(`${app.url}/slow?ms=1500`);
    // Nothing written yet: the response is entirely in flight when the signal lands.
    await app.waitForLog('slow request started');
    app.child.kill('SIGTERM');
    expect(await app.waitForLog('shutting down')).toMatchObject({ signal: 'SIGTERM' });
    // New connections are refused from now on while the slow one is still being served.
    await app.waitForLog('closing');
    await expect(fetch(`${app.url}/livez`)).rejects.toThrow();
    const result = await slow.done;
    expect(result).toMatchObject({ status: 200, body: 'slow response complete', complete: true });
    expect(await app.exited).toBe(0);
    const stopped = app.logs().find((l) => l.message === 'stopped');
    expect(stopped).toMatchObject({ drained: true });
    const request = app.logs().find((l) => l.message === 'request' && l.path === '/slow');
    expect(request).toMatchObject({ status: 200 });
  });

  it('LOG_BATCH=true batches stdout lines and still flushes everything up to the exit', async () => {
    app = await launchApp(FIXTURE, { env: { ...baseEnv, LOG_BATCH: 'true', LOG_LEVEL: 'debug' } });
    expect((await fetch(`${app.url}/livez`)).status).toBe(200);
    await app.waitForLog((l) => l.message === 'request' && l.path === '/livez');
    app.child.kill('SIGTERM');
    expect(await app.exited).toBe(0);
    expect(app.logs().map((l) => l.message)).toEqual(expect.arrayContaining(['shutting down', 'stopped']));
    expect(app.lines.join('\n')).not.toContain(SECRET);
  });

  it('a second SIGTERM does not restart or cut the shutdown', async () => {
    app = await launchApp(FIXTURE, { env: baseEnv });
    const slow = streamGet(`${app.url}/slow?ms=1000`);
    await until(() => app!.logs().some((l) => l.message === 'slow request started'));
    app.child.kill('SIGTERM');
    await until(() => app!.logs().some((l) => l.message === 'shutting down'));
    app.child.kill('SIGTERM');
    expect((await slow.done).body).toBe('slow response complete');
    expect(await app.exited).toBe(0);
    expect(app.logs().filter((l) => l.message === 'shutting down')).toHaveLength(1);
    expect(app.logs().some((l) => l.message === 'already shutting down, signal ignored')).toBe(true);
  });

  it('an SSE stream open at SIGTERM finishes within the deadline, and the process exits 0', async () => {
    app = await launchApp(FIXTURE, { env: { ...baseEnv, SHUTDOWN_TIMEOUT_MS: '5s' } });
    const stream = streamGet(`${app.url}/sse?events=10&interval=100`);
    await until(() => stream.result.body.includes('data: 1\n'));
    app.child.kill('SIGTERM');
    const result = await stream.done;
    expect(result.complete).toBe(true);
    expect(result.body).toContain('data: 9\n\n');
    expect(result.body.endsWith('data: end\n\n')).toBe(true);
    expect(await app.exited).toBe(0);
  });

  it('an endless SSE stream is cut at the deadline, and the process exits 1', async () => {
    app = await launchApp(FIXTURE, { env: { ...baseEnv, SHUTDOWN_TIMEOUT_MS: '800ms' } });
    const stream = streamGet(`${app.url}/sse?interval=50`);
    await until(() => stream.result.body.includes('data: 1\n'));
    const t0 = Date.now();
    app.child.kill('SIGTERM');
    const result = await stream.done;
    const cutAfter = Date.now() - t0;
    expect(result.complete).toBe(false);
    expect(result.error).toBeDefined();
    expect(cutAfter).toBeGreaterThanOrEqual(700);
    expect(cutAfter).toBeLessThan(4_000);
    expect(await app.exited).toBe(1);
    expect(app.logs().find((l) => l.message === 'stopped')).toMatchObject({ drained: false });
    await expect(app.waitForLog('never logged', 100)).rejects.toThrow(/process exited without/);
  });

  it('exits 1 when close() hangs past the forced-exit watchdog', async () => {
    app = await launchApp(FIXTURE, {
      env: { ...baseEnv, HANG_ON_CLOSE: 'true', FORCE_EXIT_AFTER_MS: '500' },
    });
    const t0 = Date.now();
    app.child.kill('SIGTERM');
    expect(await app.exited).toBe(1);
    expect(Date.now() - t0).toBeLessThan(4_000);
    expect(app.logs().some((l) => l.message === 'shutdown did not finish in time, exiting')).toBe(true);
  });

  it('logs an uncaught exception (redacted) and exits 1', async () => {
    app = await launchApp(FIXTURE, { env: baseEnv });
    expect(await (await fetch(`${app.url}/throw-later`)).text()).toBe('ok');
    expect(await app.exited).toBe(1);
    const logged = app.logs().find((l) => l.message === 'uncaught exception, exiting')!;
    expect((logged.err as { message: string }).message).toBe('uncaught with password=[REDACTED]');
    expect(app.lines.join('\n')).not.toContain(SECRET);
  });

  it('logs an unhandled rejection (redacted) and keeps serving', async () => {
    app = await launchApp(FIXTURE, { env: baseEnv });
    expect(await (await fetch(`${app.url}/reject`)).text()).toBe('ok');
    const logged = await app.waitForLog('unhandled promise rejection');
    expect(String((logged.err as { message: string }).message)).toBe(
      'dangling rejection with Bearer [REDACTED]',
    );
    expect((await fetch(`${app.url}/livez`)).status).toBe(200);
    expect(app.lines.join('\n')).not.toContain(SECRET);
    app.child.kill('SIGINT');
    expect(await app.exited).toBe(0);
    expect(app.logs().find((l) => l.message === 'shutting down')).toMatchObject({ signal: 'SIGINT' });
  });
});
