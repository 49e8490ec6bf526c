// Two broker processes (the real dist/main.js) sharing one real redis-server: sign in through one,
// act through the other; sessions, sealed MSAL cache partitions and rate-limit counters are shared.
import { Redis } from 'ioredis';
import { launchApp, type LaunchedProcess } from '@auth-sidecars/testkit/process';
import { startRedis, type RunningRedis } from '@auth-sidecars/testkit/redis';
import { ALICE, BOB, BROKER_ENTRY, Client, freePort, startWorld, type World } from '../helpers.js';

let world: World;
let redis: RunningRedis;
const replicas: LaunchedProcess[] = [];

/** A replica on a port of its own; `publicUrl` (default: its own URL) is the address users know. */
async function launchReplica(publicUrl?: string): Promise<LaunchedProcess> {
  const port = await freePort();
  const replica = await launchApp(BROKER_ENTRY, {
    env: world.baseEnv({
      PORT: String(port),
      PUBLIC_URL: publicUrl ?? `http://127.0.0.1:${port}`,
      REDIS_URL: redis.url,
      REDIS_KEY_PREFIX: 'replicas-test:',
      RATE_LIMIT_REQUESTS: '4',
      LOG_LEVEL: 'info',
      NODE_EXTRA_CA_CERTS: world.entra.caPath,
    }),
    startTimeoutMs: 20_000,
  });
  replicas.push(replica);
  return replica;
}

beforeAll(async () => {
  [world, redis] = await Promise.all([startWorld(), startRedis()]);
});
afterAll(async () => {
  for (const r of replicas) await r.close();
  await world?.close();
  await redis?.close();
});

it('signs in through replica A and lists pods through replica B', async () => {
  const [a, b] = await Promise.all([launchReplica(), launchReplica()]);
  expect(a!.url).not.toBe(b!.url);

  const viaA = new Client(a!.url);
  await viaA.signIn(ALICE, '/?ns=team-a');
  const viaB = new Client(b!.url);
  for (const [k, v] of viaA.cookies) viaB.cookies.set(k, v);

  // B never saw this sign-in, yet it finds the session and alice's cache partition in Redis.
  const pods = await viaB.fetch('/k8s/api/v1/namespaces/team-a/pods');
  expect(pods.status).toBe(200);
  expect(
    pods
      .json<{ items: Array<{ metadata: { name: string } }> }>()
      .items.map((p) => p.metadata.name)
      .sort(),
  ).toEqual(['api-0', 'worker-0']);
  expect(world.kube.requestLog.at(-1)?.user).toBe(ALICE);
  const me = await viaB.fetch('/api/me?namespace=team-a');
  expect(me.json<{ user: { username: string } }>().user.username).toBe(ALICE);
  // Log lines come through a pipe and may trail the HTTP response: wait for them.
  await b!.waitForLog((l) => l.component === 'audit' && l.user === ALICE && l.resource === 'pods');
  await a!.waitForLog((l) => l.message === 'signed in' && l.user === ALICE);

  // Readiness reports the Redis store.
  const ready = await (await fetch(new URL('/readyz', b!.url))).json();
  expect(ready).toMatchObject({ status: 'ready', details: { store: { kind: 'redis', ok: true } } });

  // What sits in Redis is sealed: no token, no refresh token, no account name in clear.
  const client = new Redis(redis.url);
  try {
    const keys = await client.keys('replicas-test:*');
    const cacheKeys = keys.filter((k) => k.startsWith('replicas-test:msal:'));
    expect(cacheKeys).toHaveLength(1);
    expect(keys.some((k) => k.startsWith('replicas-test:session:'))).toBe(true);
    const sealed = (await client.get(cacheKeys[0]!))!;
    expect(sealed).toMatch(/^v1\./);
    // A JWT in clear would show as two `eyJ` segments; a lone `eyJ` can occur by chance in base64url.
    expect(sealed).not.toMatch(/eyJ[\w-]*\.eyJ|RefreshToken|alice@contoso/);
  } finally {
    client.disconnect();
  }

  // The per-user budget (4) is shared: 2 calls on B above, 2 more on A, then B refuses.
  expect((await viaA.fetch('/k8s/api/v1/namespaces/team-a/pods')).status).toBe(200);
  expect((await viaA.fetch('/k8s/api/v1/namespaces/team-a/pods')).status).toBe(200);
  const limited = await viaB.fetch('/k8s/api/v1/namespaces/team-a/pods');
  expect(limited.status).toBe(429);
  expect(limited.headers.get('retry-after')).toMatch(/^\d+$/);

  // Signing out on B ends the session on A as well.
  expect((await viaB.fetch('/logout', { method: 'POST', headers: { 'x-aks-broker': '1' } })).status).toBe(
    303,
  );
  expect((await viaA.fetch('/api/me')).status).toBe(401);
});

it('a sign-in begun on replica A finishes on replica B; /login writes nothing to Redis', async () => {
  // Behind one Service both replicas answer for one PUBLIC_URL (the redirect URI Entra sends back to).
  const a = await launchReplica();
  const b = await launchReplica(a.url);
  const client = new Redis(redis.url);
  try {
    const before = (await client.keys('replicas-test:*')).length;
    for (let i = 0; i < 50; i++) {
      const res = await fetch(new URL('/login', a.url), { redirect: 'manual' });
      expect(res.status).toBe(302);
      await res.text();
    }
    expect((await client.keys('replicas-test:*')).length).toBe(before);

    const viaA = new Client(a.url);
    const { authorizeUrl } = await viaA.startSignIn('/?ns=team-b');
    const callback = new URL(await Client.pickUser(authorizeUrl, BOB));
    const viaB = new Client(b.url);
    for (const [k, v] of viaA.cookies) viaB.cookies.set(k, v);
    const done = await viaB.fetch(callback.pathname + callback.search);
    expect(done.status).toBe(303);
    expect(done.headers.get('location')).toBe('/?ns=team-b');
    // (bob: alice spent her shared budget above)
    expect((await viaB.fetch('/api/me')).json<{ user: { username: string } }>().user.username).toBe(BOB);
    // The redeemed state is remembered (sealed nowhere: it is only a digest) until it would have expired.
    expect((await client.keys('replicas-test:redeemed-state:*')).length).toBeGreaterThan(0);
  } finally {
    client.disconnect();
  }
});
