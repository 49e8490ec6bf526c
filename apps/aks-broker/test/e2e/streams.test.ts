// One user must not starve the others: watches are capped per user (429 beyond), they run off the
// connection pool plain calls use, and every call's time starts when the broker takes it on.
import { ALICE, BOB, Client, startBroker, startWorld, type InProcessBroker, type World } from '../helpers.js';

let world: World;
beforeAll(async () => {
  world = await startWorld();
});
afterAll(async () => {
  await world?.close();
});

async function waitFor(check: () => boolean, what: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`${what}: not reached in ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Responses of open watches: referenced until the test ends (fetch cancels a collected body). */
const held: Response[] = [];
afterEach(() => {
  held.length = 0;
});

/** Opens a watch as `client`; resolves with its status once the head arrived (the body stays open). */
async function openWatch(
  broker: InProcessBroker,
  client: Client,
  signal: AbortSignal,
  namespace = 'team-a',
): Promise<number> {
  const res = await fetch(new URL(`/k8s/api/v1/namespaces/${namespace}/pods?watch=1`, broker.url), {
    headers: { cookie: client.cookieHeader() },
    signal,
  });
  held.push(res);
  return res.status;
}

it('300 watches held by one user leave other users their plain calls, and the 301st is refused', async () => {
  // More watches than the plain calls' pool has connections (256): on a shared pool, the others queue.
  const broker = await startBroker(world, {
    KUBE_MAX_STREAMS_PER_USER: '300',
    RATE_LIMIT_REQUESTS: '1000',
  });
  const controller = new AbortController();
  try {
    const alice = new Client(broker.url);
    const bob = new Client(broker.url);
    await alice.signIn(ALICE);
    await bob.signIn(BOB);
    const statuses: Array<Promise<number>> = [];
    for (let batch = 0; batch < 6; batch++) {
      for (let i = 0; i < 50; i++) statuses.push(openWatch(broker, alice, controller.signal));
      await waitFor(() => world.kube.watchCount() >= (batch + 1) * 50, `${(batch + 1) * 50} open watches`);
    }
    expect((await Promise.all(statuses)).every((s) => s === 200)).toBe(true);

    const refused = await alice.fetch('/k8s/api/v1/namespaces/team-a/pods?watch=1');
    expect(refused.status).toBe(429);
    expect(refused.json()).toEqual({ error: { code: 'too_many_streams', message: expect.any(String) } });
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);

    // bob, meanwhile: discovery, his identity and permissions, his pods, and a watch of his own.
    expect((await bob.fetch('/k8s/version')).status).toBe(200);
    expect((await bob.fetch('/api/me?namespace=team-b')).status).toBe(200);
    expect((await bob.fetch('/k8s/api/v1/namespaces/team-b/pods')).status).toBe(200);
    // alice's own plain calls work too: the cap is on streams, not on her.
    expect((await alice.fetch('/k8s/api/v1/namespaces/team-a/pods')).status).toBe(200);
    const metrics = await (await fetch(new URL('/metrics', broker.url))).text();
    expect(metrics).toMatch(/aks_broker_open_streams(\{[^}]*\})? 300\b/);
    expect(metrics).toMatch(/aks_broker_concurrency_refused_total\{[^}]*kind="stream"[^}]*\} 1\b/);

    // Closing her watches frees her slots.
    controller.abort();
    await waitFor(() => world.kube.watchCount() === 0, 'every watch closed');
    const again = new AbortController();
    expect(await openWatch(broker, alice, again.signal)).toBe(200);
    again.abort();
  } finally {
    controller.abort();
    await broker.close();
  }
}, 180_000);

it('the default cap (KUBE_MAX_STREAMS_PER_USER=20) is per user', async () => {
  const broker = await startBroker(world);
  const aliceWatches = new AbortController();
  const bobWatches = new AbortController();
  try {
    const alice = new Client(broker.url);
    const bob = new Client(broker.url);
    await alice.signIn(ALICE);
    await bob.signIn(BOB);
    const opened = await Promise.all(
      Array.from({ length: 20 }, () => openWatch(broker, alice, aliceWatches.signal)),
    );
    expect(opened.every((s) => s === 200)).toBe(true);
    expect((await alice.fetch('/k8s/api/v1/namespaces/team-a/pods?watch=true')).status).toBe(429);
    // bob's budget is his own: his watch opens.
    expect(await openWatch(broker, bob, bobWatches.signal, 'team-b')).toBe(200);
  } finally {
    aliceWatches.abort();
    bobWatches.abort();
    await broker.close();
  }
}, 60_000);

it('plain calls whose answers never finish (a slow reader, a trickling server) cannot starve other users', async () => {
  // Held for ever, they pile up at the rate limit's pace (120 a minute by default); a high limit
  // here only compresses those minutes into one burst.
  const broker = await startBroker(world, { RATE_LIMIT_REQUESTS: '1000' });
  const controller = new AbortController();
  try {
    const alice = new Client(broker.url);
    const bob = new Client(broker.url);
    await alice.signIn(ALICE);
    await bob.signIn(BOB);
    world.faults.trickleFor = ALICE;
    const statuses: number[] = [];
    for (let batch = 0; batch < 6; batch++) {
      const answers = await Promise.all(
        Array.from({ length: 50 }, async () => {
          const res = await fetch(new URL('/k8s/api/v1/namespaces/team-a/pods', broker.url), {
            headers: { cookie: alice.cookieHeader() },
            signal: controller.signal,
          });
          held.push(res);
          return res.status;
        }),
      );
      statuses.push(...answers);
    }
    // Each of her first 50 holds a connection; beyond that she is told to wait.
    expect(statuses.filter((s) => s === 200)).toHaveLength(50);
    expect(statuses.filter((s) => s === 429)).toHaveLength(250);
    const refused = await alice.fetch('/k8s/api/v1/namespaces/team-a/pods');
    expect(refused.json()).toEqual({ error: { code: 'too_many_calls', message: expect.any(String) } });

    // bob, meanwhile, is served as if alice were not there.
    expect((await bob.fetch('/k8s/version')).status).toBe(200);
    expect((await bob.fetch('/api/me?namespace=team-b')).status).toBe(200);
    expect((await bob.fetch('/k8s/api/v1/namespaces/team-b/pods')).status).toBe(200);

    // Her held calls end when she lets go of them, and her slots come back.
    world.faults.trickleFor = undefined;
    controller.abort();
    const deadline = Date.now() + 30_000;
    let status = 0;
    while (status !== 200 && Date.now() < deadline) {
      status = (await alice.fetch('/k8s/api/v1/namespaces/team-a/pods')).status;
      if (status !== 200) await new Promise((r) => setTimeout(r, 100));
    }
    expect(status).toBe(200);
  } finally {
    world.faults.trickleFor = undefined;
    controller.abort();
    await broker.close();
  }
}, 180_000);

it("a call's time starts at dispatch: a rules review whose body never ends answers 504", async () => {
  const broker = await startBroker(world, { KUBE_REQUEST_TIMEOUT_SECONDS: '2' });
  try {
    const alice = new Client(broker.url);
    await alice.signIn(ALICE);
    world.faults.stallRulesReview = true;
    // A generous bound only so that the old behaviour (no end at all) fails instead of hanging.
    const res = await alice.fetch('/api/me?namespace=team-a', { signal: AbortSignal.timeout(30_000) });
    expect(res.status).toBe(504);
    expect(res.json()).toEqual({ error: { code: 'gateway_timeout', message: expect.any(String) } });
    world.faults.stallRulesReview = false;
    expect((await alice.fetch('/api/me?namespace=team-a')).status).toBe(200);
  } finally {
    world.faults.stallRulesReview = false;
    await broker.close();
  }
}, 60_000);
