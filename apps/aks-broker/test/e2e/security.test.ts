// Security properties: open redirects, state replay, session isolation between users, rate limits,
// CSRF on unsafe methods, and no token, code or cookie value in any log line.
import { once } from 'node:events';
import { connect } from 'node:net';
import { until } from '@auth-sidecars/testkit/wait';
import {
  ALICE,
  BOB,
  Client,
  HOSTILE_POD_PAGE,
  startBroker,
  startWorld,
  type InProcessBroker,
  type World,
} from '../helpers.js';

let world: World;
let broker: InProcessBroker;
/** Every secret the tests handled: none may appear in a log line. */
const secrets = new Set<string>();

beforeAll(async () => {
  world = await startWorld();
  broker = await startBroker(world, { RATE_LIMIT_REQUESTS: '1000', RATE_LIMIT_WINDOW_SECONDS: '60' });
});
afterAll(async () => {
  await broker?.close();
  await world?.close();
});

describe('returnTo', () => {
  it.each([
    '//evil.example',
    '//evil.example/path',
    '/\\evil.example',
    '\\/evil.example',
    'https://evil.example/',
    'http:evil.example',
    'javascript:alert(1)',
    '/%2F%2Fevil.example',
    '/%2fevil.example',
    '/%5Cevil.example',
    '%2F%2Fevil.example',
    '/%252F%252Fevil.example',
    '/%09/evil.example',
    '/\t/evil.example',
    // Dot segments that normalise into `//evil.example` (found by the attack review).
    '/.//evil.example',
    '/a/../..//evil.example',
    '/%2e%2e//evil.example',
    '/%2E/%2fevil.example',
    '/./%5Cevil.example',
    // A sign-in link that would end in a GET on the API as the user.
    '/k8s/api/v1/namespaces/team-a/pods/api-0/proxy/admin/delete',
    '/K8S/api/v1/namespaces/team-a/pods',
    '/api/me',
  ])('rejects %j at /login without contacting Entra', async (returnTo) => {
    const client = new Client(broker.url);
    const before = world.entra.requestLog.length;
    const res = await client.fetch(`/login?returnTo=${encodeURIComponent(returnTo)}`);
    expect(res.status).toBe(400);
    expect(res.json()).toEqual({ error: { code: 'invalid_return_to', message: expect.any(String) } });
    expect(res.headers.get('location')).toBeNull();
    expect(world.entra.requestLog.length).toBe(before);
  });

  it('rejects a repeated returnTo parameter', async () => {
    const res = await new Client(broker.url).fetch('/login?returnTo=/ok&returnTo=//evil.example');
    expect(res.status).toBe(400);
  });

  it('keeps a safe relative returnTo through the whole sign-in', async () => {
    const client = new Client(broker.url);
    const answer = await client.signIn(ALICE, '/?ns=team-a#pods');
    expect(answer.headers.get('location')).toBe('/?ns=team-a#pods');
  });
});

describe('state', () => {
  it('a replayed callback (same code and state) is refused', async () => {
    const client = new Client(broker.url);
    const { authorizeUrl } = await client.startSignIn();
    const callback = await Client.pickUser(authorizeUrl, ALICE);
    secrets.add(new URL(callback).searchParams.get('code')!);
    expect((await client.fetch(callback)).status).toBe(303);
    const replay = await new Client(broker.url).fetch(callback);
    expect(replay.status).toBe(400);
    expect(replay.json()).toEqual({ error: { code: 'invalid_state', message: expect.any(String) } });
  });

  it("a callback begun in browser A and opened in browser B signs B in as nobody and leaves B's session alone", async () => {
    const a = new Client(broker.url);
    const { authorizeUrl } = await a.startSignIn('/?ns=team-a');
    const callback = await Client.pickUser(authorizeUrl, ALICE);
    secrets.add(new URL(callback).searchParams.get('code')!);

    // B is signed in as bob; the attacker gets B to open A's callback URL (a link, an <img>, a redirect).
    const b = new Client(broker.url);
    await b.signIn(BOB);
    const bobCookies = new Map(b.cookies);
    const attack = await b.fetch(callback);
    expect(attack.status).toBe(400);
    expect(attack.json()).toEqual({ error: { code: 'invalid_state', message: expect.any(String) } });
    expect(b.cookies).toEqual(bobCookies);
    expect((await b.fetch('/api/me')).json<{ user: { username: string } }>().user.username).toBe(BOB);

    // A browser without any cookie gets nothing either.
    const c = new Client(broker.url);
    expect((await c.fetch(callback)).status).toBe(400);
    expect(c.cookies.size).toBe(0);

    // Neither attempt used A's sign-in up: A finishes it.
    const own = await a.fetch(callback);
    expect(own.status).toBe(303);
    expect(own.headers.get('location')).toBe('/?ns=team-a');
    expect((await a.fetch('/api/me')).json<{ user: { username: string } }>().user.username).toBe(ALICE);
  });

  it('/login keeps nothing server side: anonymous hits do not grow the store', async () => {
    const { MemoryStore } = await import('../../src/store.js');
    const store = broker.deps.store as InstanceType<typeof MemoryStore>;
    expect(store).toBeInstanceOf(MemoryStore);
    const before = store.size;
    for (let i = 0; i < 200; i++) {
      const res = await fetch(new URL('/login', broker.url), { redirect: 'manual' });
      expect(res.status).toBe(302);
      await res.text();
    }
    expect(store.size).toBe(before);
  });

  it('one browser keeps at most three pending sign-ins (a cookie each), the oldest gives way', async () => {
    const client = new Client(broker.url);
    const started: Array<{ authorizeUrl: string; state: string }> = [];
    for (let i = 0; i < 5; i++) started.push(await client.startSignIn(`/?tab=${i}`));
    expect([...client.cookies.keys()].filter((k) => k.startsWith('aks-broker-login-'))).toHaveLength(3);
    // The two oldest are gone; the three newest each finish (in any order).
    for (const i of [4, 2, 3]) {
      const callback = await Client.pickUser(started[i]!.authorizeUrl, ALICE);
      const res = await client.fetch(callback);
      expect([i, res.status, res.headers.get('location')]).toEqual([i, 303, `/?tab=${i}`]);
    }
    const stale = await Client.pickUser(started[0]!.authorizeUrl, ALICE);
    expect((await client.fetch(stale)).status).toBe(400);
  });

  it('an unknown or missing state is refused', async () => {
    const client = new Client(broker.url);
    expect((await client.fetch('/callback?code=abc&state=never-issued')).status).toBe(400);
    expect((await client.fetch('/callback?code=abc')).status).toBe(400);
  });

  it('a state is single use even when its code was never redeemed; another browser cannot use it', async () => {
    const victim = new Client(broker.url);
    const { authorizeUrl, state } = await victim.startSignIn();
    const callback = new URL(await Client.pickUser(authorizeUrl, ALICE));
    secrets.add(callback.searchParams.get('code')!);
    // An attacker's own code spliced onto the victim's state: the code was issued for another state.
    const attacker = new Client(broker.url);
    const { authorizeUrl: attackerUrl } = await attacker.startSignIn();
    const attackerCallback = new URL(await Client.pickUser(attackerUrl, BOB));
    secrets.add(attackerCallback.searchParams.get('code')!);
    const spliced = await victim.fetch(
      `/callback?code=${encodeURIComponent(attackerCallback.searchParams.get('code')!)}&state=${encodeURIComponent(state)}`,
    );
    expect(spliced.status).toBe(401); // PKCE: bob's code was bound to the attacker's verifier
    expect(victim.cookies.size).toBe(0);
    // The victim's state was consumed by that attempt: its genuine callback is now refused too.
    expect((await victim.fetch(callback.pathname + callback.search)).status).toBe(400);
  });

  it('an ID token whose nonce differs from the one stored with the state is refused', async () => {
    const { CryptoProvider } = await import('@azure/msal-node');
    const { LoginStates } = await import('../../src/login-state.js');
    const pkce = await new CryptoProvider().generatePkceCodes();
    const client = new Client(broker.url);
    // A genuine sign-in cookie for this browser (sealed with the broker's key), as /login would set it.
    const { state, setCookies } = new LoginStates({
      box: broker.deps.box,
      store: broker.deps.store,
      cookie: { name: broker.config.session.cookieName, secure: broker.config.session.cookieSecure },
    }).begin({ codeVerifier: pkce.verifier, nonce: 'the-nonce-we-sent', returnTo: '/' }, undefined);
    const [pair] = setCookies.at(-1)!.split(';');
    client.cookies.set(pair!.slice(0, pair!.indexOf('=')), pair!.slice(pair!.indexOf('=') + 1));
    // An authorization response for the right state and PKCE, but minted with another nonce.
    const authorize = new URL(`${world.entra.authority}/oauth2/v2.0/authorize`);
    for (const [k, v] of Object.entries({
      client_id: world.app.clientId,
      response_type: 'code',
      redirect_uri: `${broker.url}/callback`,
      scope: 'openid profile offline_access',
      state,
      nonce: 'another-nonce',
      code_challenge: pkce.challenge,
      code_challenge_method: 'S256',
      prompt: 'none',
      login_hint: ALICE,
    })) {
      authorize.searchParams.set(k, v);
    }
    const issued = await fetch(authorize, { redirect: 'manual' });
    const callback = new URL(issued.headers.get('location')!);
    secrets.add(callback.searchParams.get('code')!);
    const res = await client.fetch(callback.pathname + callback.search);
    expect(res.status).toBe(401);
    expect(res.json()).toEqual({ error: { code: 'sign_in_failed', message: expect.any(String) } });
    expect(client.cookies.size).toBe(0);
    expect(
      broker.logs().some((l) => l.message === 'code redemption failed' && String(l.reason).includes('nonce')),
    ).toBe(true);
  });

  it('an Entra error on the callback consumes the state and signs nobody in', async () => {
    const client = new Client(broker.url);
    const { state } = await client.startSignIn();
    const res = await client.fetch(
      `/callback?error=access_denied&error_description=nope&state=${encodeURIComponent(state)}`,
    );
    expect(res.status).toBe(401);
    expect(client.cookies.size).toBe(0);
    expect((await client.fetch(`/callback?code=x&state=${encodeURIComponent(state)}`)).status).toBe(400);
  });
});

describe('session isolation', () => {
  it("a session cookie from alice never yields bob's token, and a new sign-in gets a new session id", async () => {
    const alice = new Client(broker.url);
    const bob = new Client(broker.url);
    await alice.signIn(ALICE);
    await bob.signIn(BOB);
    const aliceCookie = [...alice.cookies.values()][0]!;
    const bobCookie = [...bob.cookies.values()][0]!;
    secrets.add(aliceCookie.split('.')[0]!);
    secrets.add(bobCookie.split('.')[0]!);
    expect(aliceCookie).not.toBe(bobCookie);

    // Alice's cookie acts as alice, whatever she asks for.
    for (const ns of ['team-a', 'team-b']) await alice.fetch(`/k8s/api/v1/namespaces/${ns}/pods`);
    const asAlice = world.kube.requestLog.slice(-2);
    expect(asAlice.map((e) => e.user)).toEqual([ALICE, ALICE]);
    expect(asAlice.map((e) => e.status)).toEqual([200, 403]);

    // Splicing bob's session id with alice's signature (or no signature) is refused.
    const [bobId] = bobCookie.split('.');
    const [, aliceSig] = aliceCookie.split('.');
    const cookieName = [...alice.cookies.keys()][0]!;
    for (const forged of [`${bobId}.${aliceSig}`, bobId!, `${bobId}.`]) {
      const res = await fetch(new URL('/k8s/api/v1/namespaces/team-b/pods', broker.url), {
        headers: { cookie: `${cookieName}=${forged}` },
      });
      expect(res.status).toBe(401);
    }

    // Signing in again in the same browser replaces the session: the old id is dead.
    await alice.signIn(ALICE);
    expect([...alice.cookies.values()][0]).not.toBe(aliceCookie);
    const old = await fetch(new URL('/api/me', broker.url), {
      headers: { cookie: `${cookieName}=${aliceCookie}` },
    });
    expect(old.status).toBe(401);
  });

  it('each sign-in has its own sealed cache partition holding only that user', async () => {
    const alice = new Client(broker.url);
    await alice.signIn(ALICE);
    await alice.fetch('/k8s/api/v1/namespaces/team-a/pods');
    const sessionId = [...alice.cookies.values()][0]!.split('.')[0]!;
    const { SessionStore } = await import('../../src/sessions.js');
    const session = await new SessionStore(broker.deps.store, broker.deps.box, 60_000).get(sessionId);
    expect(session?.user.username).toBe(ALICE);
    const cache = JSON.parse((await broker.deps.partitions.read(session!.cacheKey))!) as {
      Account: Record<string, { username: string }>;
      AccessToken: Record<string, { secret: string; target: string }>;
    };
    expect(Object.values(cache.Account).map((a) => a.username)).toEqual([ALICE]);
    expect(
      Object.values(cache.AccessToken).some((t) => t.target.includes('6dae42f8-4368-4678-94ff-3960e28e3630')),
    ).toBe(true);
    for (const t of Object.values(cache.AccessToken)) secrets.add(t.secret);
  });
});

describe('rate limit and CSRF', () => {
  it('429 with retry-after once a user spends the budget; other users are unaffected', async () => {
    const limited = await startBroker(world, { RATE_LIMIT_REQUESTS: '3', RATE_LIMIT_WINDOW_SECONDS: '60' });
    try {
      const alice = new Client(limited.url);
      const bob = new Client(limited.url);
      await alice.signIn(ALICE);
      await bob.signIn(BOB);
      const statuses: number[] = [];
      for (let i = 0; i < 5; i++)
        statuses.push((await alice.fetch('/k8s/api/v1/namespaces/team-a/pods')).status);
      expect(statuses).toEqual([200, 200, 200, 429, 429]);
      const limitedAnswer = await alice.fetch('/api/me');
      expect(limitedAnswer.status).toBe(429);
      expect(Number(limitedAnswer.headers.get('retry-after'))).toBeGreaterThan(0);
      expect(limitedAnswer.json()).toEqual({ error: { code: 'rate_limited', message: expect.any(String) } });
      expect((await bob.fetch('/k8s/api/v1/namespaces/team-b/pods')).status).toBe(200);
      const metrics = await (await fetch(new URL('/metrics', limited.url))).text();
      expect(metrics).toMatch(/aks_broker_rate_limited_total(\{[^}]*\})? 3/);
    } finally {
      await limited.close();
    }
  });

  it('unsafe methods need the custom header and a same-origin Origin', async () => {
    const alice = new Client(broker.url);
    await alice.signIn(ALICE);
    const body = JSON.stringify({ metadata: { name: 'x' } });
    const noHeader = await alice.fetch('/k8s/api/v1/namespaces/team-a/pods', {
      method: 'POST',
      body,
      headers: { 'content-type': 'application/json' },
    });
    expect(noHeader.status).toBe(403);
    const crossOrigin = await alice.fetch('/k8s/api/v1/namespaces/team-a/pods', {
      method: 'POST',
      body,
      headers: { 'content-type': 'application/json', 'x-aks-broker': '1', origin: 'https://evil.example' },
    });
    expect(crossOrigin.status).toBe(403);
    // With the header the call reaches the API server, which decides (alice may not create pods).
    const allowed = await alice.fetch('/k8s/api/v1/namespaces/team-a/pods', {
      method: 'POST',
      body,
      headers: { 'content-type': 'application/json', 'x-aks-broker': '1', origin: broker.url },
    });
    expect(allowed.status).toBe(403);
    expect(world.kube.requestLog.at(-1)).toMatchObject({ method: 'POST', user: ALICE, status: 403 });
  });

  it('sign-out is a POST behind the CSRF guard; GET only shows a page with a button', async () => {
    const alice = new Client(broker.url);
    const bob = new Client(broker.url);
    await alice.signIn(ALICE);
    await bob.signIn(BOB);
    const page = await alice.fetch('/logout');
    expect(page.status).toBe(200);
    expect(page.text).toContain('<form method="post" action="/logout">');
    expect(page.headers.get('content-security-policy')).toContain("form-action 'self'");
    const token = /name="csrf" value="([^"]+)"/.exec(page.text)![1]!;
    const bobsToken = /name="csrf" value="([^"]+)"/.exec((await bob.fetch('/logout')).text)![1]!;
    expect(token).not.toBe(bobsToken);
    secrets.add(token);
    const form = (fields: Record<string, string>, headers: Record<string, string> = {}) =>
      alice.fetch('/logout', {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
        body: new URLSearchParams(fields),
      });
    for (const [what, attempt] of [
      ['no token', () => form({})],
      ['a wrong token', () => form({ csrf: 'x'.repeat(43) })],
      ["bob's token", () => form({ csrf: bobsToken })],
      ['a foreign Origin', () => form({ csrf: token }, { origin: 'https://evil.example' })],
      ['Origin null', () => form({ csrf: token }, { origin: 'null' })],
      ['a cross-site fetch', () => form({ csrf: token }, { 'sec-fetch-site': 'cross-site' })],
      ['a sibling site', () => form({ csrf: token }, { 'sec-fetch-site': 'same-site' })],
    ] as const) {
      const res = await attempt();
      expect([what, res.status]).toEqual([what, 403]);
    }
    expect((await alice.fetch('/api/me')).status).toBe(200);
    const out = await form({ csrf: token }, { origin: broker.url, 'sec-fetch-site': 'same-origin' });
    expect(out.status).toBe(303);
    expect((await alice.fetch('/api/me')).status).toBe(401);
    // A script on our page may sign out with the CSRF header instead.
    expect((await bob.fetch('/logout', { method: 'POST', headers: { 'x-aks-broker': '1' } })).status).toBe(
      303,
    );
    expect((await bob.fetch('/api/me')).status).toBe(401);
  });

  it('only listed request headers reach the API server: no spoofed source address, front-proxy identity or override', async () => {
    const alice = new Client(broker.url);
    await alice.signIn(ALICE);
    const spoofed = {
      'x-real-ip': '6.6.6.6', // the API server's audit log takes sourceIPs from it
      forwarded: 'for=6.6.6.6;proto=https',
      'x-forwarded-for': '6.6.6.6',
      'x-remote-user': 'system:admin', // front-proxy (requestheader) identity headers
      'x-remote-group': 'system:masters',
      'x-remote-extra-scopes': 'all',
      'impersonate-uid': '0',
      'x-http-method-override': 'DELETE',
      'x-original-url': '/api/v1/secrets',
      'proxy-authorization': 'Basic eDp5',
    };
    const res = await alice.fetch('/k8s/api/v1/namespaces/team-a/pods', {
      headers: { ...spoofed, accept: 'application/json;as=Table;v=v1;g=meta.k8s.io, application/json' },
    });
    expect(res.status).toBe(200);
    const seen = world.faults.seenHeaders.at(-1)!;
    for (const name of Object.keys(spoofed)) expect([name, seen[name]]).toEqual([name, undefined]);
    expect(seen.authorization).toMatch(/^Bearer eyJ/); // alice's own AKS token, and nothing else of hers
    expect(seen.cookie).toBeUndefined();
    expect(seen.accept).toBe('application/json;as=Table;v=v1;g=meta.k8s.io, application/json');
  });

  it('/api and /k8s refuse what a browser marks as sent from another site, whatever the method', async () => {
    const alice = new Client(broker.url);
    await alice.signIn(ALICE);
    const before = world.kube.requestLog.length;
    for (const site of ['cross-site', 'same-site'])
      for (const path of ['/k8s/api/v1/namespaces/team-a/pods', '/api/me'])
        expect([
          site,
          path,
          (await alice.fetch(path, { headers: { 'sec-fetch-site': site } })).status,
        ]).toEqual([site, path, 403]);
    expect(world.kube.requestLog.length).toBe(before);
    for (const site of ['same-origin', 'none'])
      expect((await alice.fetch('/api/me', { headers: { 'sec-fetch-site': site } })).status).toBe(200);
  });

  it('never forwards impersonation headers or the browser cookie', async () => {
    const alice = new Client(broker.url);
    await alice.signIn(ALICE);
    const res = await alice.fetch('/k8s/api/v1/namespaces/team-b/pods', {
      headers: { 'impersonate-user': BOB, 'impersonate-group': 'system:masters' },
    });
    expect(res.status).toBe(403);
    expect(world.kube.requestLog.at(-1)?.user).toBe(ALICE);
  });

  it('forwards only Kubernetes API paths', async () => {
    const alice = new Client(broker.url);
    await alice.signIn(ALICE);
    // Raw request paths: fetch() would normalise dot segments before they reach the broker.
    const { request } = await import('node:http');
    const raw = (path: string) =>
      new Promise<number>((resolve, reject) => {
        const req = request(
          new URL(broker.url),
          { path, headers: { cookie: alice.cookieHeader() } },
          (res) => {
            res.resume();
            resolve(res.statusCode ?? 0);
          },
        );
        req.on('error', reject);
        req.end();
      });
    for (const path of [
      '/k8s/healthz',
      '/k8s/api/../../x',
      '/k8s/api/v1/namespaces/%2e%2e/pods',
      '/k8s//api/v1/pods',
      '/k8s/api/v1/namespaces/a%2Fb/pods',
    ]) {
      expect([path, await raw(path)]).toEqual([path, 400]);
    }
    expect(await raw('/k8s/api/v1/namespaces/team-a/pods')).toBe(200);
  });
});

describe('upstream answers cannot speak for the broker', () => {
  const risky = [
    '/k8s/api/v1/namespaces/team-a/pods/api-0/proxy/',
    '/k8s/api/v1/namespaces/team-a/pods/api-0:8080/proxy/admin',
    '/k8s/api/v1/namespaces/team-a/services/web:80/proxy/',
    '/k8s/api/v1/namespaces/team-a/pods/api-0/exec?command=sh&stdin=true',
    '/k8s/api/v1/namespaces/team-a/pods/api-0/attach?stdin=true',
    '/k8s/api/v1/namespaces/team-a/pods/api-0/portforward?ports=80',
    '/k8s/api/v1/proxy/namespaces/team-a/pods/api-0/',
    '/k8s/api/v1/nodes/node-1/proxy/metrics',
    '/k8s/api/v1/namespaces/team-a/pods/api-0/%70roxy/',
  ];

  it('refuses the proxy, exec, attach and portforward subresources unless allowed; nothing reaches the API server', async () => {
    const alice = new Client(broker.url);
    await alice.signIn(ALICE);
    const before = world.kube.requestLog.length;
    for (const path of risky) {
      const res = await alice.fetch(path);
      expect([path, res.status, res.json<{ error: { code: string } }>().error.code]).toEqual([
        path,
        403,
        'subresource_not_allowed',
      ]);
    }
    expect(world.kube.requestLog.length).toBe(before);
    // A pod's logs are not a way in: still forwarded (the API server's RBAC then decides).
    const log = await alice.fetch('/k8s/api/v1/namespaces/team-a/pods/api-0/log');
    expect(log.text).not.toContain('subresource_not_allowed');
    expect(world.kube.requestLog.slice(before).map((e) => e.path)).toEqual([
      '/api/v1/namespaces/team-a/pods/api-0/log',
    ]);
  });

  it("allowed by KUBE_ALLOW_SUBRESOURCES=proxy, a pod's web page comes back as an inert download under the broker's headers", async () => {
    const open = await startBroker(world, { KUBE_ALLOW_SUBRESOURCES: 'proxy' });
    try {
      const alice = new Client(open.url);
      await alice.signIn(ALICE);
      const cookiesBefore = new Map(alice.cookies);
      const page = await alice.fetch('/k8s/api/v1/namespaces/team-a/pods/api-0/proxy/', {
        headers: { origin: 'https://evil.example' },
      });
      expect(page.status).toBe(200);
      expect(page.text).toBe(HOSTILE_POD_PAGE); // forwarded unchanged, but...
      expect(page.headers.get('content-disposition')).toBe('attachment');
      const csp = page.headers.get('content-security-policy')!;
      expect(csp.split(';').map((d) => d.trim())).toEqual(
        expect.arrayContaining(['sandbox', "default-src 'none'", "frame-ancestors 'none'"]),
      );
      expect(page.headers.get('x-frame-options')).toBe('DENY');
      expect(page.headers.get('x-content-type-options')).toBe('nosniff');
      for (const name of [
        'access-control-allow-origin',
        'access-control-allow-credentials',
        'set-cookie',
        'refresh',
        'link',
      ])
        expect([name, page.headers.get(name)]).toEqual([name, null]);
      expect(alice.cookies).toEqual(cookiesBefore);
      expect(world.kube.requestLog.at(-1)).toMatchObject({ user: ALICE, status: 200 });

      // The API's own JSON stays readable data, under the same headers.
      const pods = await alice.fetch('/k8s/api/v1/namespaces/team-a/pods');
      expect(pods.headers.get('content-type')).toMatch(/^application\/json/);
      expect(pods.headers.get('content-disposition')).toBeNull();
      expect(pods.headers.get('content-security-policy')).toBe(csp);
      // A pod's redirect cannot send the browser elsewhere from the broker's origin.
      const redirect = await alice.fetch('/k8s/api/v1/namespaces/team-a/pods/api-0/proxy/redirect');
      expect(redirect.status).toBe(302);
      expect(redirect.headers.get('location')).toBeNull();
      // exec, attach and portforward stay refused: only what was named is allowed.
      expect((await alice.fetch('/k8s/api/v1/namespaces/team-a/pods/api-0/exec?command=sh')).status).toBe(
        403,
      );
    } finally {
      await open.close();
    }
  });

  it('a watch spelled the way the API server also reads it (watch=yes) counts as a stream', async () => {
    const capped = await startBroker(world, { KUBE_MAX_STREAMS_PER_USER: '1' });
    const controller = new AbortController();
    try {
      const alice = new Client(capped.url);
      await alice.signIn(ALICE);
      const first = await fetch(new URL('/k8s/api/v1/namespaces/team-a/pods?watch=yes', capped.url), {
        headers: { cookie: alice.cookieHeader() },
        signal: controller.signal,
      });
      expect(first.status).toBe(200);
      const second = await alice.fetch('/k8s/api/v1/namespaces/team-a/pods?watch=T');
      expect(second.status).toBe(429);
      expect(second.json()).toEqual({ error: { code: 'too_many_streams', message: expect.any(String) } });
    } finally {
      controller.abort();
      await capped.close();
    }
  });
});

describe('connections', () => {
  /**
   * Sends `first` on one connection, waits for its answer, then sends `rest` and `second`; answers the
   * status lines seen on that connection once two arrived, or whatever came before a 20 s deadline.
   */
  async function twoOnOneConnection(first: string, rest: string, second: string): Promise<string[]> {
    const { port } = new URL(broker.url);
    const socket = connect(Number(port), '127.0.0.1');
    let received = '';
    const statuses = () => [...received.matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((m) => m[1]!);
    socket.on('data', (chunk: Buffer) => (received += chunk.toString('latin1')));
    socket.on('error', () => {});
    try {
      await once(socket, 'connect');
      socket.write(first);
      await until(async () => statuses().length >= 1, 20_000);
      socket.write(rest);
      socket.write(second);
      await until(async () => statuses().length >= 2, 20_000);
      return statuses();
    } finally {
      socket.destroy();
    }
  }

  it("a refusal sent while the request's body is still arriving leaves the connection serving its next request", async () => {
    const body = '{"x":"' + 'a'.repeat(200_000) + '"}';
    const head =
      `PUT /api/config HTTP/1.1\r\nHost: 127.0.0.1\r\ncontent-type: application/json\r\n` +
      `transfer-encoding: chunked\r\n\r\n`;
    const chunk = (t: string) => `${t.length.toString(16)}\r\n${t}\r\n`;
    const statuses = await twoOnOneConnection(
      head + chunk(body.slice(0, 1000)),
      chunk(body.slice(1000)) + '0\r\n\r\n',
      'GET /livez HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n',
    );
    expect(statuses[0]).toMatch(/^4\d\d$/);
    expect(statuses[1]).toBe('200');
  });
});

describe('audit and logs', () => {
  it('writes one audit line per Kubernetes call with user, verb, resource, namespace, status, request id', async () => {
    const alice = new Client(broker.url);
    await alice.signIn(ALICE);
    const res = await alice.fetch('/k8s/api/v1/namespaces/team-a/pods?labelSelector=app%3Dx', {
      headers: { 'x-request-id': 'audit-probe-1' },
    });
    expect(res.status).toBe(200);
    const audit = broker.logs().filter((l) => l.component === 'audit' && l.requestId === 'audit-probe-1');
    expect(audit).toHaveLength(1);
    expect(audit[0]).toMatchObject({
      user: ALICE,
      oid: world.entra.findUser(ALICE)!.oid,
      verb: 'list',
      resource: 'pods',
      namespace: 'team-a',
      status: 200,
      path: '/api/v1/namespaces/team-a/pods',
    });
  });

  it('no token, code, assertion or session id in any log line', async () => {
    // Run a full cycle once more so every kind of secret passed through the broker.
    const bob = new Client(broker.url);
    const { authorizeUrl } = await bob.startSignIn();
    const callback = await Client.pickUser(authorizeUrl, BOB);
    secrets.add(new URL(callback).searchParams.get('code')!);
    secrets.add(new URL(callback).searchParams.get('state')!);
    await bob.fetch(callback);
    secrets.add([...bob.cookies.values()][0]!.split('.')[0]!);
    await bob.fetch('/k8s/api/v1/namespaces/team-b/pods');
    await bob.fetch('/logout', { method: 'POST', headers: { 'x-aks-broker': '1' } });
    const { readFile } = await import('node:fs/promises');
    secrets.add((await readFile(world.tokenFile, 'utf8')).trim());

    expect(broker.lines.length).toBeGreaterThan(20);
    expect(secrets.size).toBeGreaterThan(8);
    for (const line of broker.lines) {
      for (const secret of secrets)
        expect(line.includes(secret) ? `${secret.slice(0, 12)}… in ${line}` : undefined).toBeUndefined();
      expect(line).not.toMatch(/eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}/); // no JWT of any kind
      expect(line).not.toMatch(/1\.dev-entra\./); // no authorization code
    }
    // The callback was logged (path only), and the sign-in was.
    expect(broker.logs().some((l) => l.message === 'request' && l.path === '/callback')).toBe(true);
    expect(broker.logs().some((l) => l.message === 'signed in' && l.user === BOB)).toBe(true);
  });
});
