// carta-forwardauth under fuzz: the built dist/main.js watching session pods and services in the
// Kubernetes API stand-in. Besides the common properties: an allow (2xx) carries the user of a
// session the request's URI names, and only that user; a 2xx for nobody or for a session named
// elsewhere (a Referer: the fallback is off by default) hands someone else's session to the caller.
// Probes and /metrics have a port of their own (PROBE_PORT); on the decision port every path is a
// decision, so /livez, /readyz and /metrics there are never an allow without a session.
import fc from 'fast-check';
import { startKubeApi, type KubeApi } from '@auth-sidecars/testkit/kube-api';
import type { LaunchedProcess } from '@auth-sidecars/testkit/process';
import type { Exemplar, Vocabulary } from './support/arbitraries.js';
import { startApp } from './support/apps.js';
import { runFuzz } from './support/harness.js';
import type { ParsedResponse } from './support/raw-client.js';
import type { Exchange } from './support/sender.js';
import { fuzzSettings } from './support/settings.js';

/**
 * The CARTA session a URI (path or absolute URL) names: `/session/carta/[http/|ws/]<id>` at the start
 * of its path, after percent-decoding (leniently: an oracle must not be stricter than the app).
 */
function cartaSessionIn(uri: string): string | undefined {
  // `{{origin}}` is the app's own origin, filled in at send time.
  let path = uri.replace(/^([a-z][a-z0-9+.-]*:\/\/[^/?#]*|\{\{origin\}\})/i, '').split(/[?#]/)[0] ?? '';
  for (let i = 0; i < 3; i++) {
    try {
      const decoded = decodeURIComponent(path);
      if (decoded === path) break;
      path = decoded;
    } catch {
      break;
    }
  }
  return /^\/session\/carta\/(?:(?:http|ws)\/)?([a-z0-9]+)(?=\/|$)/i.exec(path)?.[1];
}

/** Sessions named where carta-forwardauth looks: X-Forwarded-Uri, X-Original-URI, the request line. */
function cartaUriSessions(target: string, headers: Array<[string, string]>): string[] {
  const uris = [
    target,
    ...headers.filter(([k]) => /^x-(forwarded-uri|original-uri)$/i.test(k.trim())).map(([, v]) => v),
  ];
  return uris
    .flatMap((u) => (u.startsWith('/') ? [cartaSessionIn(u)] : []))
    .filter((id): id is string => id !== undefined);
}

const PROBE_PATHS = new Set(['/livez', '/readyz', '/metrics']);
/** A request line naming a probe path (node:http reads `GET  /livez` and `/livez#x` as that path too). */
const namesProbePath = (target: string) => PROBE_PATHS.has(target.trim().split(/[?#]/)[0] ?? '');

const NS = 'skaha-workload';
const SA = 'system:serviceaccount:skaha-workload:carta-forwardauth';
const USER_HEADER = 'carta-auth-token';

/** Session id -> the user who owns it (one owner each; `dup1` has two and must never be allowed). */
const OWNERS: Record<string, string> = { abc123: 'alice', def456: 'bob', leg789: 'carol', svc1: 'frank' };
const SESSIONS = [...Object.keys(OWNERS), 'dup1', 'nosuch0'];

const sessionUris = SESSIONS.flatMap((id) => [
  `/session/carta/${id}/`,
  `/session/carta/${id}/?socketUrl=wss://x`,
  `/session/carta/http/${id}/index.html`,
  `/session/carta/ws/${id}/`,
  `/session/carta/${id}`,
]);
const oddUris = [
  '/session/carta/ABC123/',
  '/Session/Carta/abc123/',
  '/session/carta/abc123/../def456/',
  '/session/carta//abc123/',
  '/session/carta/%61bc123/',
  '/session/carta/abc123%2f..%2fdef456/',
  '/session/carta/abc123%252f/',
  '/session/carta/http/',
  '/session/carta/',
  '/admin/secret',
  '/',
  '/livez',
  '/x/session/carta/abc123/',
];
const URIS = [...sessionUris, ...oddUris];
const ORIGINS = [
  'https://carta.example.org',
  'http://carta.example.org',
  'javascript://carta.example.org',
  'https://evil.example',
  '',
];

const vocabulary: Vocabulary = {
  paths: [
    '/',
    '/auth',
    '/authz',
    ...sessionUris.filter((u) => !u.includes('?')),
    '/livez',
    '/readyz',
    '/metrics',
  ],
  queries: ['socketUrl=wss://x', 'x=/session/carta/def456/'],
  credentials: ['{{marker}}', '{{satoken}}'],
  headers: [
    ...URIS.map((u): [string, string] => ['X-Forwarded-Uri', u]),
    ...URIS.map((u): [string, string] => ['X-Original-URI', u]),
    ...sessionUris.map((u): [string, string] => ['Referer', `https://carta.example.org${u}`]),
    ['X-Forwarded-Method', 'GET'],
    ['X-Forwarded-Host', 'carta.example.org'],
  ],
  bodies: [],
  // What Traefik, nginx and Envoy send, some with a Referer (same or another session, or none).
  exemplars: fc
    .tuple(
      fc.constantFrom(...URIS),
      fc.nat({ max: 2 }),
      fc.option(fc.tuple(fc.constantFrom(...ORIGINS), fc.constantFrom(...URIS)), { freq: 2 }),
    )
    .map(([uri, proxy, referer]): Exemplar => {
      const ref: Array<[string, string]> =
        referer === null ? [] : [['Referer', `${referer[0]}${referer[1]}`]];
      if (proxy === 0)
        return {
          method: 'GET',
          target: '/',
          headers: [
            ['X-Forwarded-Method', 'GET'],
            ['X-Forwarded-Proto', 'https'],
            ['X-Forwarded-Host', 'carta.example.org'],
            ['X-Forwarded-Uri', uri],
            ['X-Forwarded-For', '203.0.113.9'],
            ...ref,
          ],
        };
      if (proxy === 1) return { method: 'GET', target: '/auth', headers: [['X-Original-URI', uri], ...ref] };
      return { method: 'GET', target: uri, headers: ref };
    }),
};

function sessionPod(name: string, sessionId: string, user: string, labels: 'new' | 'legacy' = 'new') {
  const keys =
    labels === 'new'
      ? ['canfar.net/id', 'canfar.net/username']
      : ['canfar-net-sessionID', 'canfar-net-userid'];
  return {
    name,
    namespace: NS,
    labels: { [keys[0]!]: sessionId, [keys[1]!]: user, 'canfar-net-sessionType': 'carta' },
  };
}

let api: KubeApi;
let app: LaunchedProcess;
let saToken: string;
/** The probe port's URL (PROBE_PORT=0: an ephemeral port, from its own `listening` line). */
let probes: string;

beforeAll(async () => {
  api = await startKubeApi({ defaultNamespace: NS });
  api.addPod(sessionPod('carta-1', 'abc123', 'alice'));
  api.addPod(sessionPod('carta-2', 'def456', 'bob'));
  api.addPod(sessionPod('carta-3', 'leg789', 'carol', 'legacy'));
  api.addPod(sessionPod('carta-4', 'dup1', 'alice'));
  api.addPod(sessionPod('carta-5', 'dup1', 'mallory'));
  api.addService({
    name: 'svc-only',
    namespace: NS,
    labels: { 'canfar-net-sessionID': 'svc1', 'canfar-net-userid': 'frank' },
  });
  saToken = api.token(SA);
  app = await startApp('carta-forwardauth', {
    KUBECONFIG: api.writeKubeconfig(SA, NS),
    TARGET_NAMESPACE: NS,
    PROBE_PORT: '0',
  });
  const probeLine = await app.waitForLog(
    (l) => l.message === 'listening' && l.component === 'probes',
    60_000,
  );
  probes = String(probeLine.url);
  // Decisions need the informers synced.
  const deadline = Date.now() + 120_000;
  while ((await fetch(new URL('/readyz', probes))).status !== 200) {
    if (Date.now() > deadline) throw new Error('carta-forwardauth never became ready');
    await new Promise((r) => setTimeout(r, 200));
  }
});

afterAll(async () => {
  await app?.close();
  await api?.close();
});

it('allows only with the user of the session the URI names, and keeps the common properties', async () => {
  const allowed = new Set<string>();
  let probePathDecisions = 0;
  const report = await runFuzz({
    app: 'carta-forwardauth',
    process: app,
    alivePath: '/livez',
    aliveBase: probes,
    vocabulary,
    values: () => ({ satoken: saToken }),
    secrets: () => [saToken],
    tokens: () => [],
    check: (ex: Exchange, res: ParsedResponse) => {
      const named = cartaUriSessions(ex.request.target, ex.request.headers);
      const probePath = namesProbePath(ex.request.target);
      if (probePath) probePathDecisions += 1;
      if (res.status < 200 || res.status >= 300) return [];
      if (probePath && named.length === 0)
        return [
          `${ex.request.target.trim()} on the decision port answered ${res.status} (an allow) without a session`,
        ];
      const users = res.headers.filter(([k]) => k === USER_HEADER).map(([, v]) => v);
      if (users.length !== 1)
        return [`a ${res.status} (an allow) with ${users.length} ${USER_HEADER} headers`];
      const user = users[0]!;
      if (!named.some((id) => OWNERS[id] === user))
        return [
          `allowed as ${user}, but the URI names ${named.length ? named.join(', ') : 'no session'} of ${JSON.stringify(named.map((id) => OWNERS[id] ?? null))}`,
        ];
      allowed.add(user);
      return [];
    },
  });
  expect(report.requests).toBe(fuzzSettings().runs);
  // Allows really happened for several users, so the identity property was exercised.
  expect(allowed.size).toBeGreaterThan(2);
  // Probe paths really reached the decision port as decisions.
  expect(probePathDecisions).toBeGreaterThan(0);
});
