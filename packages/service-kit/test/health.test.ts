import express from 'express';
import { healthRoutes, type ReadyCheck } from '../src/health.js';
import { serve, type RunningServer } from '../src/server.js';
import { captureLogger } from './helpers.js';

describe('healthRoutes', () => {
  let running: RunningServer | undefined;
  afterEach(async () => {
    await running?.close();
    running = undefined;
  });

  async function start(ready?: ReadyCheck, readyTimeoutMs?: number) {
    const app = express();
    app.use(healthRoutes({ ready, readyTimeoutMs }));
    running = await serve(app, { host: '127.0.0.1', port: 0, logger: captureLogger().logger });
    const get = async (path: string) => {
      const res = await fetch(`${running!.url}${path}`);
      return {
        status: res.status,
        body: (await res.json()) as Record<string, unknown>,
        cacheControl: res.headers.get('cache-control'),
      };
    };
    return get;
  }

  it('/livez answers 200 ok even when not ready', async () => {
    const get = await start(() => false);
    expect(await get('/livez')).toEqual({ status: 200, body: { status: 'ok' }, cacheControl: 'no-store' });
  });

  it('/readyz follows a boolean, sync or async', async () => {
    let ready = false;
    const get = await start(async () => ready);
    expect(await get('/readyz')).toMatchObject({ status: 503, body: { status: 'not_ready' } });
    ready = true;
    expect(await get('/readyz')).toMatchObject({ status: 200, body: { status: 'ready' } });
  });

  it('/readyz returns details, redacted, with 503 when not ready', async () => {
    const get = await start(() => ({
      ready: false,
      details: { token: { valid: false, lastError: 'refused: Bearer abcdef123' } },
    }));
    const res = await get('/readyz');
    expect(res.status).toBe(503);
    expect(res.body).toEqual({
      status: 'not_ready',
      details: { token: { valid: false, lastError: 'refused: Bearer [REDACTED]' } },
    });
  });

  it('/readyz turns a throwing or hanging check into 503 instead of failing', async () => {
    const get = await start(() => {
      throw new Error('informer not synced');
    });
    expect(await get('/readyz')).toEqual({
      status: 503,
      body: { status: 'not_ready', details: { error: 'informer not synced' } },
      cacheControl: 'no-store',
    });
    await running!.close();
    const hanging = await start(() => new Promise<boolean>(() => {}), 100);
    const res = await hanging('/readyz');
    expect(res.status).toBe(503);
    expect(String((res.body.details as { error: string }).error)).toMatch(/timed out/);
  });

  it('without a check, ready whenever alive', async () => {
    const get = await start();
    expect(await get('/readyz')).toMatchObject({ status: 200, body: { status: 'ready' } });
  });
});
