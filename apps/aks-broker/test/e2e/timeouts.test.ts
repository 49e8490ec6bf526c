// Every outbound call has a deadline: an identity provider that takes the connection and never
// answers, or a Redis that stops answering, makes the broker answer with a clear 503 in the
// configured time, not hang; both recover on their own.
import { startRedis, type RunningRedis } from '@auth-sidecars/testkit/redis';
import { ALICE, BOB, Client, startBroker, startWorld, type InProcessBroker, type World } from '../helpers.js';

let world: World;
beforeAll(async () => {
  world = await startWorld();
});
afterAll(async () => {
  world.entra.setLatency(0);
  await world?.close();
});

/** Generous: the only purpose is that the old behaviour (no answer at all) fails instead of hanging. */
const BOUND = { signal: () => AbortSignal.timeout(30_000) };

describe('identity provider that hangs', () => {
  let broker: InProcessBroker;
  beforeAll(async () => {
    // The Kubernetes deadline is longer on purpose: what answers must be MSAL's own timeout.
    broker = await startBroker(world, { ENTRA_TIMEOUT_SECONDS: '1', KUBE_REQUEST_TIMEOUT_SECONDS: '120' });
  });
  afterAll(async () => {
    world.entra.setLatency(0);
    await broker?.close();
  });
  afterEach(() => world.entra.setLatency(0));

  it('a token refresh that never comes back is a 503 token_unavailable; the next call works again', async () => {
    const alice = new Client(broker.url);
    await alice.signIn(ALICE); // the AKS token itself comes later, through the refresh token
    world.entra.setLatency(120_000);
    const res = await alice.fetch('/k8s/api/v1/namespaces/team-a/pods', { signal: BOUND.signal() });
    expect(res.status).toBe(503);
    expect(res.json()).toEqual({ error: { code: 'token_unavailable', message: expect.any(String) } });
    // MSAL's call timed out (not the Kubernetes deadline, which is longer here).
    expect(
      broker
        .logs()
        .some(
          (l) => l.message === 'AKS token acquisition failed' && String(l.reason).includes('idp_timeout'),
        ),
    ).toBe(true);
    world.entra.setLatency(0);
    expect((await alice.fetch('/k8s/api/v1/namespaces/team-a/pods')).status).toBe(200);
  }, 60_000);

  it('a code redemption that never comes back is a 503 idp_timeout, and signs nobody in', async () => {
    const bob = new Client(broker.url);
    const { authorizeUrl } = await bob.startSignIn();
    const callback = await Client.pickUser(authorizeUrl, BOB);
    world.entra.setLatency(120_000);
    const res = await bob.fetch(callback, { signal: BOUND.signal() });
    expect(res.status).toBe(503);
    expect(res.json()).toEqual({ error: { code: 'idp_timeout', message: expect.any(String) } });
    expect([...bob.cookies.keys()].some((k) => !k.includes('-login-'))).toBe(false);
  }, 60_000);
});

describe('Redis that hangs', () => {
  let redis: RunningRedis;
  let broker: InProcessBroker;
  beforeAll(async () => {
    redis = await startRedis();
    broker = await startBroker(world, { REDIS_URL: redis.url, REDIS_TIMEOUT_SECONDS: '1' });
  });
  afterAll(async () => {
    redis?.child.kill('SIGCONT');
    await broker?.close();
    await redis?.close();
  });

  it('a paused Redis makes session calls 503 store_unavailable and /readyz 503 in time; both recover', async () => {
    const alice = new Client(broker.url);
    await alice.signIn(ALICE);
    expect((await alice.fetch('/api/me')).status).toBe(200);

    // SIGSTOP: connections stay open, the kernel still accepts, nothing ever answers.
    redis.child.kill('SIGSTOP');
    try {
      const me = await alice.fetch('/api/me', { signal: BOUND.signal() });
      expect(me.status).toBe(503);
      expect(me.json()).toEqual({ error: { code: 'store_unavailable', message: expect.any(String) } });
      const ready = await fetch(new URL('/readyz', broker.url), { signal: BOUND.signal() });
      expect(ready.status).toBe(503);
      expect(await ready.json()).toMatchObject({ details: { store: { kind: 'redis', ok: false } } });
      // Starting a sign-in needs no store at all.
      expect((await new Client(broker.url).fetch('/login', { signal: BOUND.signal() })).status).toBe(302);
    } finally {
      redis.child.kill('SIGCONT');
    }
    expect((await alice.fetch('/api/me')).status).toBe(200);
    expect((await fetch(new URL('/readyz', broker.url))).status).toBe(200);
  }, 90_000);
});
