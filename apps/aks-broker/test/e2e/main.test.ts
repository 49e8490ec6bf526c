// The real entry point: configuration errors exit 78 listing every problem, an unreachable Redis
// fails startup, and SIGTERM drains and exits 0.
import { launchApp } from '@auth-sidecars/testkit/process';
import { startRedis } from '@auth-sidecars/testkit/redis';
import { BROKER_ENTRY, freePort, startWorld, type World } from '../helpers.js';

let world: World;
beforeAll(async () => {
  world = await startWorld();
});
afterAll(async () => {
  await world?.close();
});

it('exits 78 with every missing variable named at once', async () => {
  const child = await launchApp(BROKER_ENTRY, { env: { SESSION_SECRET: 'short' }, waitForListening: false });
  expect(await child.exited).toBe(78);
  const output = child.lines.join('\n');
  for (const name of [
    'AZURE_CLIENT_ID',
    'AZURE_TENANT_ID',
    'AZURE_FEDERATED_TOKEN_FILE',
    'PUBLIC_URL',
    'SESSION_SECRET',
    'KUBE_API_URL',
  ])
    expect(output).toContain(name);
});

it('fails startup (exit 1) when Redis cannot be reached', async () => {
  const port = await freePort();
  const child = await launchApp(BROKER_ENTRY, {
    env: world.baseEnv({ REDIS_URL: `redis://127.0.0.1:${port}/0`, NODE_EXTRA_CA_CERTS: world.entra.caPath }),
    waitForListening: false,
  });
  expect(await child.exited).toBe(1);
  expect(child.lines.join('\n')).toMatch(/startup failed/);
});

it('fails startup (exit 1) in REDIS_TIMEOUT_SECONDS when Redis accepts connections but never answers', async () => {
  const redis = await startRedis();
  redis.child.kill('SIGSTOP');
  try {
    const child = await launchApp(BROKER_ENTRY, {
      env: world.baseEnv({
        REDIS_URL: redis.url,
        REDIS_TIMEOUT_SECONDS: '1',
        NODE_EXTRA_CA_CERTS: world.entra.caPath,
      }),
      waitForListening: false,
    });
    // A generous bound, only so that a hang fails the test instead of stalling it.
    const code = await Promise.race([child.exited, new Promise((r) => setTimeout(() => r('hung'), 30_000))]);
    if (code === 'hung') await child.close(1_000);
    expect(code).toBe(1);
    expect(child.lines.join('\n')).toMatch(/startup failed/);
  } finally {
    redis.child.kill('SIGCONT');
    await redis.close();
  }
}, 60_000);

it('serves, reports ready, and exits 0 on SIGTERM', async () => {
  const child = await launchApp(BROKER_ENTRY, {
    env: world.baseEnv({ NODE_EXTRA_CA_CERTS: world.entra.caPath, LOG_LEVEL: 'info' }),
  });
  const ready = await fetch(new URL('/readyz', child.url));
  expect(ready.status).toBe(200);
  const page = await fetch(new URL('/', child.url));
  expect(page.status).toBe(200);
  expect(page.headers.get('content-security-policy')).toContain("script-src 'self'");
  expect(await page.text()).toContain('<title>AKS broker</title>');
  expect(await child.close()).toBe(0);
});
