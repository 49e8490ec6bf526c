// Sign-in through dev-entra, /api/me with SelfSubjectRulesReview, /k8s as the user, sign-out.
import { ALICE, BOB, Client, startBroker, startWorld, type InProcessBroker, type World } from '../helpers.js';

let world: World;
let broker: InProcessBroker;

beforeAll(async () => {
  world = await startWorld();
  broker = await startBroker(world);
});
afterAll(async () => {
  await broker?.close();
  await world?.close();
});

async function waitFor(check: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

interface PodList {
  items: Array<{ metadata: { name: string } }>;
}

describe('sign-in and Kubernetes calls as the user', () => {
  it('signs alice in and acts as alice: team-a yes, team-b no', async () => {
    const alice = new Client(broker.url);
    const callback = await alice.signIn(ALICE, '/?ns=team-a');
    expect(callback.headers.get('location')).toBe('/?ns=team-a');
    const setCookie = callback.headers.get('set-cookie')!;
    expect(setCookie).toMatch(/HttpOnly/);
    expect(setCookie).toMatch(/SameSite=Lax/);

    const me = await alice.fetch('/api/me?namespace=team-a');
    expect(me.status).toBe(200);
    const body = me.json<{
      user: { username: string; oid: string };
      permissions: { resourceRules: Array<{ verbs: string[]; resources: string[] }> };
    }>();
    expect(body.user.username).toBe(ALICE);
    expect(body.user.oid).toBe(world.entra.findUser(ALICE)!.oid);
    expect(body.permissions.resourceRules).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ verbs: ['get', 'list', 'watch'], resources: ['pods', 'services'] }),
      ]),
    );

    const pods = await alice.fetch('/k8s/api/v1/namespaces/team-a/pods');
    expect(pods.status).toBe(200);
    expect(
      pods
        .json<PodList>()
        .items.map((p) => p.metadata.name)
        .sort(),
    ).toEqual(['api-0', 'worker-0']);
    expect((await alice.fetch('/k8s/api/v1/namespaces/team-b/pods')).status).toBe(403);

    // The API server saw alice's own token: the stand-in authenticated alice, not the broker.
    const seen = world.kube.requestLog.filter((e) => e.path === '/api/v1/namespaces/team-a/pods');
    expect(seen.at(-1)?.user).toBe(ALICE);
  });

  it('bob sees team-b only, and his permissions differ', async () => {
    const bob = new Client(broker.url);
    await bob.signIn(BOB);
    const pods = await bob.fetch('/k8s/api/v1/namespaces/team-b/pods');
    expect(pods.status).toBe(200);
    expect(pods.json<PodList>().items.map((p) => p.metadata.name)).toEqual(['db-0']);
    expect((await bob.fetch('/k8s/api/v1/namespaces/team-a/pods')).status).toBe(403);
    const me = (await bob.fetch('/api/me?namespace=team-a')).json<{
      permissions: { resourceRules: Array<{ resources: string[] }> };
    }>();
    expect(me.permissions.resourceRules.flatMap((r) => r.resources)).not.toContain('pods');
  });

  it('signs out: session gone, refused afterwards, redirected to Entra end-session', async () => {
    const alice = new Client(broker.url);
    await alice.signIn(ALICE);
    const oldCookie = alice.cookieHeader();
    expect((await alice.fetch('/api/me')).status).toBe(200);
    // GET only shows the button; the form (or a script with the CSRF header) POSTs.
    const page = await alice.fetch('/logout');
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    expect((await alice.fetch('/api/me')).status).toBe(200);
    const token = /name="csrf" value="([^"]+)"/.exec(page.text)![1]!;
    const out = await alice.fetch('/logout', {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', origin: broker.url },
      body: new URLSearchParams({ csrf: token }),
    });
    expect(out.status).toBe(303);
    const location = new URL(out.headers.get('location')!);
    expect(location.href.startsWith(`${world.entra.authority}/oauth2/v2.0/logout`)).toBe(true);
    expect(location.searchParams.get('post_logout_redirect_uri')).toBe(`${broker.url}/`);
    expect(alice.cookies.size).toBe(0);
    expect((await alice.fetch('/api/me')).status).toBe(401);
    // Replaying the old cookie does not bring the session back.
    const replay = await fetch(new URL('/k8s/api/v1/namespaces/team-a/pods', broker.url), {
      headers: { cookie: oldCookie },
    });
    expect(replay.status).toBe(401);
  });

  it('streams a watch both ways: events arrive as they happen, closing the browser side ends the upstream watch', async () => {
    const alice = new Client(broker.url);
    await alice.signIn(ALICE);
    const list = (await alice.fetch('/k8s/api/v1/namespaces/team-a/pods')).json<{
      metadata: { resourceVersion: string };
    }>();
    const controller = new AbortController();
    const res = await fetch(
      new URL(
        `/k8s/api/v1/namespaces/team-a/pods?watch=1&resourceVersion=${list.metadata.resourceVersion}`,
        broker.url,
      ),
      {
        headers: { cookie: alice.cookieHeader() },
        signal: controller.signal,
      },
    );
    expect(res.status).toBe(200);
    const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
    await waitFor(() => world.kube.watchCount() === 1);
    world.kube.addPod({ name: 'streamed-1', namespace: 'team-a' });
    let buffer = '';
    while (!buffer.includes('\n')) buffer += (await reader.read()).value ?? '';
    expect(JSON.parse(buffer.split('\n')[0]!)).toMatchObject({
      type: 'ADDED',
      object: { metadata: { name: 'streamed-1' } },
    });
    controller.abort();
    await waitFor(() => world.kube.watchCount() === 0);
    await waitFor(() =>
      broker.logs().some((l) => l.component === 'audit' && l.verb === 'watch' && l.aborted === true),
    );
    world.kube.deletePod({ name: 'streamed-1', namespace: 'team-a' });
  });

  it('without a session: 401 with a pointer to /login', async () => {
    const anonymous = new Client(broker.url);
    const res = await anonymous.fetch('/k8s/api/v1/namespaces/team-a/pods');
    expect(res.status).toBe(401);
    expect(res.headers.get('x-login-url')).toBe('/login');
    expect(res.json()).toEqual({ error: { code: 'login_required', message: expect.any(String) } });
  });
});
