// Startup and run-time behaviour of the built server: configuration errors, the minimum remaining
// lifetime of handed-out tokens, and secret rotation through a re-read secret file.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { launchApp } from '@auth-sidecars/testkit/process';
import { getJson, launchServer, logsMatching, MAIN, startFixture, VAULT, type Fixture } from './support.js';

let fx: Fixture;

beforeAll(async () => {
  fx = await startFixture();
});

afterAll(async () => {
  await fx?.entra.close();
});

describe('token-server lifecycle', () => {
  it('exits 78 listing every configuration problem at once', async () => {
    const child = await launchApp(MAIN, {
      env: {
        HOST: '127.0.0.1',
        PORT: '0',
        TLS_CERT_PATH: '/nope.pem',
        TOKEN_SERVER_MAX_SCOPES: 'lots',
        AZURE_TENANT_ID: fx.entra.tenantId,
      },
      waitForListening: false,
    });
    expect(await child.exited).toBe(78);
    const out = child.lines.join('\n');
    expect(out).toMatch(/TLS_CERT_PATH and TLS_KEY_PATH go together/);
    expect(out).toMatch(/TOKEN_SERVER_MAX_SCOPES/);
    expect(out).toMatch(/no client configured/);
  });

  it('warm scopes: /readyz is 503 while the IdP is down, 200 once the token is held; then cache hits', async () => {
    await fx.entra.setDown(true);
    const server = await launchServer({ ...fx.serverEnv, TOKEN_SERVER_WARM_SCOPES: VAULT });
    try {
      const notReady = await getJson(`${server.url}/readyz`);
      expect(notReady.status).toBe(503);
      expect(notReady.body.details).toMatchObject({ warm: 1, warmValid: 0 });
      await fx.entra.setDown(false);
      let status = 503;
      for (let i = 0; i < 100 && status !== 200; i++) {
        await new Promise((r) => setTimeout(r, 200));
        status = (await getJson(`${server.url}/readyz`)).status;
      }
      expect(status).toBe(200);
      fx.entra.resetStats();
      const res = await getJson(`${server.url}/token?scope=${encodeURIComponent(VAULT)}`, {
        authorization: `Bearer ${fx.serverEnv.AZD_AUTH_SECRET}`,
      });
      expect(res.status).toBe(200);
      expect(fx.entra.stats().tokenRequests).toBe(0);
      const [issued] = await logsMatching(server, (l) => l.audit === 'issued');
      expect(issued).toMatchObject({ cacheHit: true });
    } finally {
      await fx.entra.setDown(false);
      await server.close();
    }
  });

  it('refreshes first rather than hand out a token with less than the minimum lifetime left', async () => {
    // dev-entra tokens live 3600 s; with a 3598 s minimum a token is "too old" after ~2 s.
    const server = await launchServer({ ...fx.serverEnv, TOKEN_SERVER_MIN_VALIDITY_SECONDS: '3598' });
    try {
      const get = () =>
        getJson(`${server.url}/token?scope=${encodeURIComponent(VAULT)}`, {
          authorization: `Bearer ${fx.serverEnv.AZD_AUTH_SECRET}`,
        });
      const first = await get();
      expect(first.status).toBe(200);
      fx.entra.resetStats();
      await new Promise((r) => setTimeout(r, 3000));
      const second = await get();
      expect(second.status).toBe(200);
      expect(second.body.access_token).not.toBe(first.body.access_token);
      expect(second.body.expires_in).toBeGreaterThanOrEqual(3598);
      expect(fx.entra.stats().tokenRequests).toBe(1);
    } finally {
      await server.close();
    }
  });

  it('picks up a rotated secret file without a restart (both lines valid during the rotation)', async () => {
    const file = join(fx.dir, 'rotating-secret');
    const [oldSecret, newSecret] = ['rotation-old-0123456789abcdef', 'rotation-new-0123456789abcdef'];
    writeFileSync(file, `${oldSecret}\n`);
    const env = { ...fx.serverEnv, AZD_AUTH_SECRET_FILE: file, TOKEN_SERVER_POLICY_RELOAD_SECONDS: '1' };
    delete (env as Record<string, string | undefined>).AZD_AUTH_SECRET;
    const server = await launchServer(env);
    try {
      const status = async (secret: string) =>
        (
          await getJson(`${server.url}/token?scope=${encodeURIComponent(VAULT)}`, {
            authorization: `Bearer ${secret}`,
          })
        ).status;
      expect(await status(oldSecret)).toBe(200);
      expect(await status(newSecret)).toBe(401);
      writeFileSync(file, `${oldSecret}\n${newSecret}\n`);
      await new Promise((r) => setTimeout(r, 1600));
      expect([await status(oldSecret), await status(newSecret)]).toEqual([200, 200]);
      writeFileSync(file, `${newSecret}\n`);
      await new Promise((r) => setTimeout(r, 1600));
      expect([await status(oldSecret), await status(newSecret)]).toEqual([401, 200]);
      expect(await logsMatching(server, (l) => l.message === 'clients reloaded', 2)).toHaveLength(2);
    } finally {
      await server.close();
    }
  });
});
