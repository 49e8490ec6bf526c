// Acceptance of issue 6 through the real @kubernetes/client-node informers against the stand-in.
import { startKubeApi, type KubeApi } from '@auth-sidecars/testkit/kube-api';
import { readConfig } from '../src/config.js';
import {
  envoy,
  nginx,
  NS,
  rawRequest,
  SA,
  sessionPod,
  startCarta,
  traefik,
  sample,
  until,
  type Carta,
} from './helpers.js';

const readyz = async (url: string) => {
  const res = await fetch(`${url}/readyz`);
  return {
    status: res.status,
    body: (await res.json()) as {
      status: string;
      details: { synced: boolean; sources: Array<{ state: string; lastError?: string }> };
    },
  };
};

describe('carta-forwardauth against the Kubernetes API stand-in', () => {
  let api: KubeApi;
  let carta: Carta;

  beforeEach(async () => {
    api = await startKubeApi({ defaultNamespace: NS });
    api.addPod(sessionPod('carta-new', 'abc123', 'alice'));
    api.addPod(sessionPod('carta-legacy', 'old42', 'bob', 'legacy'));
    api.addPod({ name: 'notebook', labels: { 'canfar.net/id': 'nb1' } }); // no user label: not a session
    api.addPod({ ...sessionPod('elsewhere', 'other1', 'mallory'), namespace: 'other-ns' });
    carta = await startCarta(api);
    await until(async () => (await readyz(carta.probeUrl)).status === 200);
    await until(() => api.watchCount() === 4);
  });

  afterEach(async () => {
    await carta?.close();
    await api?.close();
  });

  it.each([
    ['CARTA 5+', '/session/carta/abc123/'],
    ['CARTA 5+ asset with query', '/session/carta/abc123/static/js/main.js?v=5'],
    ['legacy http shape', '/session/carta/http/abc123/'],
    ['legacy ws shape', '/session/carta/ws/abc123/socket'],
  ])('allows %s for Traefik, nginx and Envoy with the owner in carta-auth-token', async (_shape, uri) => {
    for (const res of [
      await traefik(carta.url, uri),
      await nginx(carta.url, uri),
      await envoy(carta.url, uri),
    ]) {
      expect(res.status).toBe(200);
      expect(res.headers['carta-auth-token']).toBe('alice');
    }
  });

  it('allows sessions labelled with the legacy keys', async () => {
    const res = await traefik(carta.url, '/session/carta/old42/');
    expect(res).toMatchObject({ status: 200, headers: { 'carta-auth-token': 'bob' } });
    expect(await nginx(carta.url, '/session/carta/ws/old42/')).toMatchObject({ status: 200 });
  });

  it('does not read the Referer unless REFERER_FALLBACK is on (issue 14)', async () => {
    for (const uri of ['/admin/secret', '/favicon.ico', '/static/app.js']) {
      for (const referer of ['/session/carta/abc123/', 'https://carta.example.org/session/carta/abc123/']) {
        const res = await traefik(carta.url, uri, [['Referer', referer]]);
        expect(res.status).toBe(403);
        expect(res.headers['carta-auth-token']).toBeUndefined();
      }
    }
    expect(
      (await rawRequest(carta.url, '/', [['Referer', 'https://h/session/carta/old42/']], 'POST')).status,
    ).toBe(403);
  });

  it.each([
    ['unknown session', '/session/carta/zzz999/'],
    ['pod without user label', '/session/carta/nb1/'],
    ['session in another namespace', '/session/carta/other1/'],
    ['no session in the URI', '/'],
  ])('denies %s with 403 on every protocol', async (_case, uri) => {
    for (const res of [
      await traefik(carta.url, uri),
      await nginx(carta.url, uri),
      await envoy(carta.url, uri),
    ]) {
      expect(res.status).toBe(403);
      expect(res.headers['carta-auth-token']).toBeUndefined();
      expect(JSON.parse(res.body)).toEqual({ error: { code: 'forbidden', message: 'access denied' } });
    }
  });

  it.each([
    ['upper-case id', '/session/carta/ABC123/'],
    ['id with a dash', '/session/carta/abc-123/'],
    ['http is never an id', '/session/carta/http/'],
    ['ws is never an id', '/session/carta/ws/'],
    ['http/ws nesting', '/session/carta/http/ws/abc123/'],
    ['dot segment escaping the session', '/session/carta/abc123/../victim1/'],
    ['encoded dot segment', '/session/carta/abc123/%2e%2e/victim1/'],
    ['encoded slash', '/session/carta/abc123%2f..%2fvictim1/'],
    ['double encoding', '/session/carta/%2561bc123/'],
    ['doubled slash', '/session//carta/abc123/'],
    ['case variant of the prefix', '/Session/carta/abc123/'],
    ['backslash', '/session/carta/abc123\\..\\x/'],
    ['id too long', `/session/carta/${'a'.repeat(64)}/`],
    ['very long URI', `/session/carta/abc123/${'x'.repeat(5000)}`],
    ['malformed percent encoding', '/session/carta/abc123/%zz'],
  ])('refuses spoofing (%s) with 403, never 5xx', async (_case, uri) => {
    const before = api.requestLog.length;
    for (const res of [
      await traefik(carta.url, uri),
      await nginx(carta.url, uri),
      await envoy(carta.url, uri),
    ]) {
      expect(res.status).toBe(403);
      expect(res.headers['carta-auth-token']).toBeUndefined();
    }
    expect(api.requestLog.length).toBe(before);
  });

  it('refuses conflicting and injected headers', async () => {
    const cases: Array<Array<[string, string]>> = [
      // a client's own X-Original-URI lending a session to a URI that names none
      [
        ['X-Forwarded-Uri', '/admin/secret'],
        ['X-Original-URI', '/session/carta/abc123/'],
      ],
      // Traefik and nginx headers disagreeing
      [
        ['X-Forwarded-Uri', '/session/carta/abc123/'],
        ['X-Original-URI', '/session/carta/old42/'],
      ],
      // a client-supplied second X-Forwarded-Uri next to the proxy's
      [
        ['X-Forwarded-Uri', '/session/carta/abc123/'],
        ['X-Forwarded-Uri', '/session/carta/old42/'],
      ],
      [
        ['X-Original-URI', '/session/carta/abc123/'],
        ['X-Original-URI', '/session/carta/abc123/'],
      ],
      // a client trying to bring its own identity header
      [
        ['carta-auth-token', 'alice'],
        ['X-Forwarded-Uri', '/session/carta/nope1/'],
      ],
    ];
    for (const headers of cases) {
      const res = await rawRequest(carta.url, '/', headers);
      expect(res.status).toBe(403);
      expect(res.headers['carta-auth-token']).toBeUndefined();
    }
    // Envoy: original path on the request line disagreeing with a forwarded header
    expect(
      (await envoy(carta.url, '/session/carta/old42/', [['X-Forwarded-Uri', '/session/carta/abc123/']]))
        .status,
    ).toBe(403);
  });

  it('never answers 5xx to oversized headers', async () => {
    const res = await traefik(carta.url, `/session/carta/abc123/${'y'.repeat(20_000)}`);
    expect(res.status).toBeGreaterThanOrEqual(400);
    expect(res.status).toBeLessThan(500);
  });

  it('logs one decision line per denial with the reason and without the URI or Referer', async () => {
    const denied = await traefik(carta.url, '/session/carta/zzz999/secret-path?token=abc', [
      ['Referer', 'https://carta.example.org/session/carta/zzz999/?q=private'],
    ]);
    await traefik(carta.url, '/session/carta/abc123/'); // allowed: a debug line only
    await until(() => carta.logs.some((l) => l.message === 'access allowed'));
    const denials = carta.logs.filter((l) => l.message === 'access denied');
    expect(denials).toHaveLength(1);
    // the decision line is the only line: no request line besides it, even at debug
    expect(carta.logs.filter((l) => l.message === 'request' && l.path !== '/readyz')).toEqual([]);
    expect(denials[0]).toMatchObject({
      level: 'info',
      component: 'decision',
      requestId: denied.headers['x-request-id'],
      reason: 'unknown_session',
      sessionId: 'zzz999',
      source: 'x-forwarded-uri',
      host: 'carta.example.org',
      client: '203.0.113.9',
    });
    const text = JSON.stringify(carta.logs);
    expect(text).not.toContain('secret-path');
    expect(text).not.toContain('private');
  });

  it('answers from memory: no API request per decision', async () => {
    const before = api.requestLog.length;
    for (let i = 0; i < 50; i++) expect((await envoy(carta.url, '/session/carta/abc123/')).status).toBe(200);
    for (let i = 0; i < 50; i++)
      expect((await envoy(carta.url, `/session/carta/miss${i}/`)).status).toBe(403);
    expect(api.requestLog.length).toBe(before);
    // and only list/watch of pods and services in the target namespace, as the service account
    expect(new Set(api.requestLog.map((e) => `${e.user} ${e.verb} ${e.resource} ${e.namespace}`))).toEqual(
      new Set([
        `${SA} list pods ${NS}`,
        `${SA} watch pods ${NS}`,
        `${SA} list services ${NS}`,
        `${SA} watch services ${NS}`,
      ]),
    );
  });

  it('allows a new session within 2 s and denies a deleted one within 2 s', async () => {
    expect((await traefik(carta.url, '/session/carta/fresh1/')).status).toBe(403);
    api.addPod(sessionPod('carta-fresh', 'fresh1', 'carol'));
    const allowedAfter = await until(
      async () => (await traefik(carta.url, '/session/carta/fresh1/')).status === 200,
      2000,
    );
    expect(allowedAfter).toBeLessThan(2000);

    api.deletePod('carta-new');
    const deniedAfter = await until(
      async () => (await traefik(carta.url, '/session/carta/abc123/')).status === 403,
      2000,
    );
    expect(deniedAfter).toBeLessThan(2000);
  });

  it('denies as soon as a pod terminates (deletionTimestamp) or ends, and follows label changes', async () => {
    api.deletePod('carta-legacy', { graceSeconds: 30 });
    await until(async () => (await traefik(carta.url, '/session/carta/old42/')).status === 403, 2000);
    api.updatePod('carta-new', (p) => void (p.status = { phase: 'Succeeded' }));
    await until(async () => (await traefik(carta.url, '/session/carta/abc123/')).status === 403, 2000);
    api.addPod(sessionPod('relabel', 'move1', 'dave'));
    await until(async () => (await traefik(carta.url, '/session/carta/move1/')).status === 200, 2000);
    api.updatePod('relabel', (p) => void (p.metadata.labels!['canfar.net/username'] = 'erin'));
    await until(
      async () => (await traefik(carta.url, '/session/carta/move1/')).headers['carta-auth-token'] === 'erin',
      2000,
    );
  });

  it('falls back to services, prefers pods, and denies sessions whose pods name different users', async () => {
    api.addService({
      name: 'svc-only',
      labels: { 'canfar-net-sessionID': 'svc1', 'canfar-net-userid': 'frank' },
      selector: { 'canfar-net-sessionID': 'svc1' },
    });
    api.addService({
      name: 'svc-shadow',
      labels: { 'canfar.net/id': 'abc123', 'canfar.net/username': 'mallory' },
    });
    await until(async () => (await traefik(carta.url, '/session/carta/svc1/')).status === 200, 2000);
    expect((await traefik(carta.url, '/session/carta/svc1/')).headers['carta-auth-token']).toBe('frank');
    expect((await traefik(carta.url, '/session/carta/abc123/')).headers['carta-auth-token']).toBe('alice');
    api.addPod(sessionPod('carta-dup', 'abc123', 'mallory'));
    await until(async () => (await traefik(carta.url, '/session/carta/abc123/')).status === 403, 2000);
    await until(() => carta.logs.some((l) => l.reason === 'conflicting_owners'));
  });

  it('recovers from a broken watch and /readyz tells the truth meanwhile', async () => {
    // Break every watch and keep the API away: the informers fail, /readyz must say so.
    await api.setDown(true);
    await until(async () => (await readyz(carta.probeUrl)).status === 503, 3000);
    const down = await readyz(carta.probeUrl);
    expect(down.body.status).toBe('not_ready');
    expect(down.body.details.sources.some((s) => s.state === 'error' && s.lastError)).toBe(true);
    // Within the stale grace the last known state still answers.
    expect((await traefik(carta.url, '/session/carta/abc123/')).status).toBe(200);
    // Changes while the API is unreachable are picked up by the re-list after it returns.
    api.deletePod('carta-new');
    api.addPod(sessionPod('carta-during', 'during1', 'gina'));
    await api.setDown(false);
    await until(async () => (await readyz(carta.probeUrl)).status === 200, 5000);
    await until(async () => (await traefik(carta.url, '/session/carta/during1/')).status === 200, 2000);
    expect((await traefik(carta.url, '/session/carta/abc123/')).status).toBe(403);

    // A watch cut mid-stream (no API outage): recovers on its own, events after the cut arrive.
    api.breakWatches();
    api.addPod(sessionPod('carta-after', 'after1', 'hank'));
    await until(async () => (await traefik(carta.url, '/session/carta/after1/')).status === 200, 2000);
    await until(async () => (await readyz(carta.probeUrl)).status === 200, 3000);
    const metrics = await (await fetch(`${carta.probeUrl}/metrics`)).text();
    expect(metrics).toMatch(
      /carta_forwardauth_watch_restarts_total\{kind="pods",selector="canfar.net\/id,canfar.net\/username",service="carta-forwardauth"\} [1-9]/,
    );
  });

  it('re-lists after 410 Gone and after a watch that simply ends', async () => {
    api.compact();
    api.endWatches();
    api.deletePod('carta-new');
    await until(async () => (await traefik(carta.url, '/session/carta/abc123/')).status === 403, 3000);
    api.addPod(sessionPod('carta-later', 'later1', 'ivan'));
    await until(async () => (await traefik(carta.url, '/session/carta/later1/')).status === 200, 3000);
    expect(
      api.requestLog.filter((e) => e.verb === 'list' && e.resource === 'pods').length,
    ).toBeGreaterThanOrEqual(3);
  });

  it('exposes decisions, cache size and sync state in /metrics', async () => {
    await traefik(carta.url, '/session/carta/abc123/');
    await traefik(carta.url, '/session/carta/nope99/');
    await traefik(carta.url, '/session/carta/BAD/');
    const text = await (await fetch(`${carta.probeUrl}/metrics`)).text();
    expect(text).toMatch(
      /carta_forwardauth_decisions_total\{result="allow",reason="",service="carta-forwardauth"\} 1/,
    );
    expect(text).toMatch(
      /carta_forwardauth_decisions_total\{result="deny",reason="unknown_session",service="carta-forwardauth"\} 1/,
    );
    expect(text).toMatch(
      /carta_forwardauth_decisions_total\{result="deny",reason="invalid_session_id",service="carta-forwardauth"\} 1/,
    );
    expect(text).toMatch(/carta_forwardauth_cache_sessions\{service="carta-forwardauth"\} 2/);
    expect(text).toMatch(
      /carta_forwardauth_informer_synced\{kind="services",selector="canfar-net-sessionID,canfar-net-userid",service="carta-forwardauth"\} 1/,
    );
    expect((await fetch(`${carta.probeUrl}/livez`)).status).toBe(200);
  });

  it('records every decision in the HTTP latency metric, route "decision" (issue 15)', async () => {
    for (let i = 0; i < 3; i++) await traefik(carta.url, '/session/carta/abc123/');
    await envoy(carta.url, '/session/carta/zzz999/', [], 'POST');
    await nginx(carta.url, '/session/carta/abc123/../x/');
    const text = await (await fetch(`${carta.probeUrl}/metrics`)).text();
    const count = (method: string, status: string) =>
      sample(text, 'http_request_duration_seconds_count', { method, route: 'decision', status });
    expect(count('GET', '200')).toBe(3);
    expect(count('POST', '403')).toBe(1);
    expect(count('GET', '403')).toBe(1);
    expect(
      sample(text, 'http_request_duration_seconds_bucket', {
        method: 'GET',
        route: 'decision',
        status: '200',
        le: '+Inf',
      }),
    ).toBe(3);
  });
});

describe('probes apart from decisions (issue 14)', () => {
  let api: KubeApi;
  beforeAll(async () => {
    api = await startKubeApi({ defaultNamespace: NS });
    api.addPod(sessionPod('carta-new', 'abc123', 'alice'));
  });
  afterAll(async () => {
    await api?.close();
  });

  it('never answers a forwarded /livez, /readyz or /metrics with 200 when AUTH_PATH_PREFIX is unset', async () => {
    const carta = await startCarta(api);
    try {
      await until(async () => (await readyz(carta.probeUrl)).status === 200, 5000);
      expect(carta.probeUrl).not.toBe(carta.url);
      for (const path of ['/livez', '/readyz', '/metrics', '/livez?x=1']) {
        for (const method of ['GET', 'HEAD']) {
          // Envoy ext_authz (original path on the request line), nginx with $request_uri, a client
          const answers = [
            await envoy(carta.url, path, [], method),
            await rawRequest(carta.url, path, [['X-Original-URI', path]], method),
            await traefik(carta.url, path),
          ];
          for (const res of answers) {
            expect({ path, method, status: res.status }).toEqual({ path, method, status: 403 });
            expect(res.headers['carta-auth-token']).toBeUndefined();
          }
        }
        // and the probe port answers them
        expect((await fetch(`${carta.probeUrl}${path}`)).status).toBe(200);
      }
      // the probe port takes no decisions
      const onProbePort = await traefik(carta.probeUrl, '/session/carta/abc123/');
      expect(onProbePort.status).toBe(404);
      expect(onProbePort.headers['carta-auth-token']).toBeUndefined();
      expect((await envoy(carta.probeUrl, '/session/carta/abc123/')).status).toBe(404);
      // decisions still work on the decision port, also on the probe paths' neighbours
      expect((await envoy(carta.url, '/session/carta/abc123/livez')).status).toBe(200);
    } finally {
      await carta.close();
    }
  });

  it('serves the probes on the decision port only with PROBE_PORT=off and AUTH_PATH_PREFIX', async () => {
    expect(() => readConfig({ PROBE_PORT: 'off' })).toThrow(/PROBE_PORT: off serves/);
    const carta = await startCarta(api, { PROBE_PORT: 'off', AUTH_PATH_PREFIX: '/authz' });
    try {
      expect(carta.probeUrl).toBe(carta.url);
      await until(async () => (await readyz(carta.url)).status === 200, 5000);
      expect((await fetch(`${carta.url}/metrics`)).status).toBe(200);
      // what Envoy sends for an original /livez carries the prefix: a decision
      for (const path of ['/livez', '/readyz', '/metrics'])
        expect((await envoy(carta.url, `/authz${path}`)).status).toBe(403);
      expect((await envoy(carta.url, '/authz/session/carta/abc123/')).status).toBe(200);
    } finally {
      await carta.close();
    }
  });
});

describe('ingress path prefixes (SESSION_PATH_PREFIXES, issue 15)', () => {
  let api: KubeApi;
  beforeAll(async () => {
    api = await startKubeApi({ defaultNamespace: NS });
    api.addPod(sessionPod('carta-new', 'abc123', 'alice'));
    api.addPod(sessionPod('carta-legacy', 'old42', 'bob', 'legacy'));
  });
  afterAll(async () => {
    await api?.close();
  });

  it('allows every URL shape behind a configured prefix, and only there', async () => {
    const carta = await startCarta(api, { SESSION_PATH_PREFIXES: '/,/skaha' });
    try {
      await until(async () => (await readyz(carta.probeUrl)).status === 200, 5000);
      for (const uri of [
        '/skaha/session/carta/abc123/',
        '/skaha/session/carta/abc123/static/main.js?v=5',
        '/skaha/session/carta/http/abc123/',
        '/skaha/session/carta/ws/abc123/socket',
        '/session/carta/abc123/',
      ]) {
        for (const res of [
          await traefik(carta.url, uri),
          await nginx(carta.url, uri),
          await envoy(carta.url, uri),
        ])
          expect({ uri, status: res.status, user: res.headers['carta-auth-token'] }).toEqual({
            uri,
            status: 200,
            user: 'alice',
          });
      }
      for (const uri of [
        '/other/session/carta/abc123/',
        '/skaha/x/session/carta/abc123/',
        '/SKAHA/session/carta/abc123/',
        '/skaha/session/carta/abc123/../../../session/carta/old42/',
        '/skaha/session/carta/abc123-x/',
      ])
        expect({ uri, status: (await traefik(carta.url, uri)).status }).toEqual({ uri, status: 403 });
    } finally {
      await carta.close();
    }
  });

  it('denies a prefixed URI by default, and says why in the log', async () => {
    const carta = await startCarta(api);
    try {
      await until(async () => (await readyz(carta.probeUrl)).status === 200, 5000);
      expect((await traefik(carta.url, '/skaha/session/carta/abc123/')).status).toBe(403);
      await until(() => carta.logs.some((l) => l.message === 'access denied'));
      expect(carta.logs.find((l) => l.message === 'access denied')).toMatchObject({
        reason: 'unlisted_path_prefix',
      });
      // only the listed prefixes: with /skaha alone, the root shape is not a session either
      const only = await startCarta(api, { SESSION_PATH_PREFIXES: '/skaha' });
      try {
        await until(async () => (await readyz(only.probeUrl)).status === 200, 5000);
        expect((await traefik(only.url, '/skaha/session/carta/abc123/')).status).toBe(200);
        expect((await traefik(only.url, '/session/carta/abc123/')).status).toBe(403);
      } finally {
        await only.close();
      }
    } finally {
      await carta.close();
    }
  });
});

describe('the Referer fallback (REFERER_FALLBACK, issue 14)', () => {
  let api: KubeApi;
  let carta: Carta;
  const env = { REFERER_FALLBACK: 'true', REFERER_ASSET_PREFIXES: '/static/,/favicon.ico' };
  beforeAll(async () => {
    api = await startKubeApi({ defaultNamespace: NS });
    api.addPod(sessionPod('carta-new', 'abc123', 'alice'));
    api.addPod(sessionPod('carta-legacy', 'old42', 'bob', 'legacy'));
    carta = await startCarta(api, env);
    await until(async () => (await readyz(carta.probeUrl)).status === 200, 5000);
  });
  afterAll(async () => {
    await carta?.close();
    await api?.close();
  });

  it("lends the Referer's session to asset requests only", async () => {
    const referer: [string, string] = ['Referer', 'https://carta.example.org/session/carta/abc123/'];
    for (const res of [
      await traefik(carta.url, '/static/js/main.js?v=1', [referer]),
      await traefik(carta.url, '/favicon.ico', [referer]),
      await nginx(carta.url, '/static/app.css', [referer]),
      await envoy(carta.url, '/favicon.ico', [referer]),
    ])
      expect(res).toMatchObject({ status: 200, headers: { 'carta-auth-token': 'alice' } });
    // the attack of issue 14: any URI, a Referer naming someone's session
    for (const uri of ['/admin/secret', '/', '/staticx/a.js', '/api/v1/files']) {
      for (const r of ['/session/carta/abc123/', 'https://carta.example.org/session/carta/abc123/']) {
        const res = await traefik(carta.url, uri, [['Referer', r]]);
        expect({ uri, r, status: res.status }).toEqual({ uri, r, status: 403 });
        expect(res.headers['carta-auth-token']).toBeUndefined();
      }
    }
  });

  it('reads only http(s) Referers', async () => {
    for (const r of [
      'javascript://carta.example.org/session/carta/abc123/',
      '/session/carta/abc123/',
      'ftp://carta.example.org/session/carta/abc123/',
      'data:text/html,/session/carta/abc123/',
    ])
      expect({ r, status: (await traefik(carta.url, '/static/app.js', [['Referer', r]])).status }).toEqual({
        r,
        status: 403,
      });
  });

  it('refuses a Referer that disagrees with the URI, is duplicated or is not canonical', async () => {
    const cases: Array<Array<[string, string]>> = [
      [
        ['X-Forwarded-Uri', '/session/carta/abc123/'],
        ['Referer', 'https://h/session/carta/old42/'],
      ],
      [
        ['X-Forwarded-Uri', '/static/app.js'],
        ['Referer', 'https://h/session/carta/abc123/'],
        ['Referer', 'https://h/session/carta/old42/'],
      ],
      [
        ['X-Forwarded-Uri', '/session/carta/abc123/'],
        ['Referer', 'https://h/session/carta/abc123/../old42/'],
      ],
    ];
    for (const headers of cases) {
      const res = await rawRequest(carta.url, '/', headers);
      expect(res.status).toBe(403);
      expect(res.headers['carta-auth-token']).toBeUndefined();
    }
  });

  it('is refused at startup without asset prefixes', () => {
    expect(() => readConfig({ REFERER_FALLBACK: 'true' })).toThrow(/REFERER_ASSET_PREFIXES/);
  });
});

describe('carta-forwardauth startup and permissions', () => {
  it('is not ready while the API server is down at start, then ready when it comes', async () => {
    const api = await startKubeApi({ defaultNamespace: NS, startDown: true });
    api.addPod(sessionPod('carta-new', 'abc123', 'alice'));
    const carta = await startCarta(api);
    try {
      await new Promise((r) => setTimeout(r, 600));
      const r = await readyz(carta.probeUrl);
      expect(r.status).toBe(503);
      expect(r.body.details.sources.every((s) => s.state !== 'synced')).toBe(true);
      expect((await fetch(`${carta.probeUrl}/livez`)).status).toBe(200);
      // A valid claim cannot be decided yet: 503, not a wrong 403; spoofing is still a 403.
      expect((await traefik(carta.url, '/session/carta/abc123/')).status).toBe(503);
      expect((await traefik(carta.url, '/session/carta/../x/')).status).toBe(403);
      await api.setDown(false);
      await until(async () => (await readyz(carta.probeUrl)).status === 200, 5000);
      expect((await traefik(carta.url, '/session/carta/abc123/')).headers['carta-auth-token']).toBe('alice');
    } finally {
      await carta.close();
      await api.close();
    }
  });

  it('stays unready with the 403 reason when RBAC forbids listing', async () => {
    const api = await startKubeApi({
      defaultNamespace: NS,
      authorize: (a) => a.user.username !== SA || a.resource === 'pods',
    });
    const carta = await startCarta(api);
    try {
      await until(async () => {
        const r = await readyz(carta.probeUrl);
        return r.status === 503 && r.body.details.sources.some((s) => /403/.test(s.lastError ?? ''));
      }, 3000);
      // with the service fallback switched off, pods alone are enough
    } finally {
      await carta.close();
    }
    const podsOnly = await startCarta(api, { LOOKUP_SERVICES: 'false' });
    try {
      await until(async () => (await readyz(podsOnly.probeUrl)).status === 200, 3000);
    } finally {
      await podsOnly.close();
      await api.close();
    }
  });

  it('reports a broken watch on /readyz until the re-list has succeeded', async () => {
    const api = await startKubeApi({ defaultNamespace: NS });
    api.addPod(sessionPod('carta-new', 'abc123', 'alice'));
    // A slow first retry (0.5-1 s) leaves a window in which /readyz must say 503.
    const carta = await startCarta(api, { RELIST_BACKOFF_INITIAL: '1s', RELIST_BACKOFF_MAX: '2s' });
    try {
      await until(async () => (await readyz(carta.probeUrl)).status === 200, 3000);
      await until(() => api.watchCount() === 4);
      const listsBefore = api.requestLog.filter((e) => e.verb === 'list').length;
      api.breakWatches();
      await until(async () => (await readyz(carta.probeUrl)).status === 503, 1000, 10);
      const during = await readyz(carta.probeUrl);
      expect(during.body.details.sources.filter((s) => s.state === 'error')).not.toHaveLength(0);
      // meanwhile the last known state answers (within STALE_GRACE)
      expect((await traefik(carta.url, '/session/carta/abc123/')).status).toBe(200);
      await until(async () => (await readyz(carta.probeUrl)).status === 200, 5000);
      // recovery is a fresh list for every broken informer
      expect(api.requestLog.filter((e) => e.verb === 'list').length).toBeGreaterThanOrEqual(listsBefore + 4);
    } finally {
      await carta.close();
      await api.close();
    }
  });

  it('uses configured label keys and namespace and a custom response header', async () => {
    const api = await startKubeApi({ defaultNamespace: 'carta' });
    api.addPod({
      name: 'p',
      namespace: 'carta',
      labels: { 'example.org/session': 'k1', 'example.org/owner': 'zoe' },
    });
    api.addPod(sessionPod('ignored', 'abc123', 'alice')); // default keys in the default namespace
    const carta = await startCarta(api, {
      TARGET_NAMESPACE: 'carta',
      SESSION_ID_LABELS: 'example.org/session',
      USER_ID_LABELS: 'example.org/owner',
      RESPONSE_HEADER: 'X-Auth-User',
      AUTH_PATH_PREFIX: '/authz',
    });
    try {
      await until(async () => (await readyz(carta.probeUrl)).status === 200, 3000);
      const res = await envoy(carta.url, '/authz/session/carta/k1/');
      expect(res).toMatchObject({ status: 200, headers: { 'x-auth-user': 'zoe' } });
      expect((await traefik(carta.url, '/session/carta/abc123/')).status).toBe(403);
      // with a prefix, the probe paths are never reachable as original paths
      expect((await envoy(carta.url, '/authz/livez')).status).toBe(403);
    } finally {
      await carta.close();
      await api.close();
    }
  });
});
