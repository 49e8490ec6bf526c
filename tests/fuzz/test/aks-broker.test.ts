// aks-broker under fuzz: the built dist/main.js with workload identity against dev-entra, sessions
// in a real Redis, and the Kubernetes API stand-in with RBAC keyed on dev-entra users. Alice and Bob
// are signed in through dev-entra's sign-in page; the fuzzer sends their cookies, bent and mixed.
// Besides the common properties: a response names a user only to a request carrying that user's
// own cookie (one cookie never shows the other's identity), and /api and /k8s never answer 2xx to a
// request the browser marks as sent from another site (Sec-Fetch-Site cross-site or same-site).
// The sign-in is a browser's: a navigation to /login, dev-entra's form, the cross-site redirect to
// /callback with the sealed login-state cookie /login set.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { DEMO_USERS, startDevEntra, type DevEntra } from '@auth-sidecars/dev-entra';
import { startKubeApi, type KubeApi } from '@auth-sidecars/testkit/kube-api';
import { kubeRbac, type RbacBinding } from '@auth-sidecars/testkit/kube-rbac';
import type { LaunchedProcess } from '@auth-sidecars/testkit/process';
import { startRedis, type RunningRedis } from '@auth-sidecars/testkit/redis';
import type { Exemplar, Vocabulary } from './support/arbitraries.js';
import { freePort, startApp } from './support/apps.js';
import { runFuzz } from './support/harness.js';
import type { ParsedResponse } from './support/raw-client.js';
import { responseText } from './support/oracles.js';
import type { Exchange } from './support/sender.js';
import { fuzzSettings } from './support/settings.js';
import type { SentRequest } from './support/spec.js';

// The production names: COOKIE_SECURE stays on (its default), so the session cookie and the sealed
// login-state cookies carry the __Host- prefix (a raw client sends them over plain http all the same).
const COOKIE = '__Host-aks-broker';
const SESSION_SECRET = 'fuzz-session-secret-0123456789abcdef-0123';
const CACHE_KEY = Buffer.alloc(32, 9).toString('base64');
const SUBJECT = 'system:serviceaccount:platform:aks-broker';
const SIGNED_IN = ['alice@contoso.test', 'bob@contoso.test'] as const;
type SignedIn = (typeof SIGNED_IN)[number];
const BINDINGS: RbacBinding[] = [
  {
    users: ['alice@contoso.test'],
    namespace: 'team-a',
    rules: [{ verbs: ['get', 'list', 'watch'], resources: ['pods', 'services'] }],
  },
  {
    users: ['bob@contoso.test'],
    namespace: 'team-b',
    rules: [{ verbs: ['get', 'list', 'watch', 'create'], resources: ['pods'] }],
  },
];

const cookieOf = (who: string) => `{{cookie.${who}}}`;
const vocabulary: Vocabulary = {
  paths: [
    '/',
    '/index.html',
    '/static/app.js',
    '/login',
    '/callback',
    '/logout',
    '/api/me',
    '/api/config',
    '/k8s/api/v1/namespaces/team-a/pods',
    '/k8s/api/v1/namespaces/team-b/pods',
    '/k8s/api/v1/namespaces/team-a/pods/api-0',
    '/k8s/apis/authorization.k8s.io/v1/selfsubjectrulesreviews',
    '/k8s/version',
    '/k8s/api',
    '/k8s/healthz',
    '/livez',
    '/readyz',
    '/metrics',
  ],
  queries: [
    'namespace=team-a',
    'namespace=team-b',
    'namespace=Team_B',
    'returnTo=/api/me',
    'returnTo=//evil.example',
    'returnTo=https://evil.example/',
    'returnTo=/\\evil.example',
    'prompt=login',
    'code=x&state=y',
    'state=',
    'error=access_denied&state=x',
    'watch=1&timeoutSeconds=1',
    'labelSelector=app%3Dx',
  ],
  credentials: [cookieOf('alice'), cookieOf('bob'), '{{forged}}', '{{aliceid}}', '{{marker}}'],
  cookieNames: [COOKIE],
  headers: [
    ['Cookie', `${COOKIE}=${cookieOf('alice')}`],
    ['Cookie', `${COOKIE}=${cookieOf('bob')}`],
    ['Cookie', `${COOKIE}=${cookieOf('alice')}; ${COOKIE}=${cookieOf('bob')}`],
    ['Cookie', `${COOKIE}={{forged}}`],
    ['X-AKS-Broker', '1'],
    ['Origin', '{{origin}}'],
    ['Origin', 'null'],
    ['Origin', 'https://evil.example'],
    ['Sec-Fetch-Site', 'same-origin'],
    ['Sec-Fetch-Site', 'cross-site'],
    ['Sec-Fetch-Site', 'same-site'],
    ['Sec-Fetch-Site', 'none'],
    ['Sec-Fetch-Mode', 'navigate'],
    ['Impersonate-User', 'alice@contoso.test'],
    ['Impersonate-Group', 'system:masters'],
  ],
  bodies: [
    {
      contentType: 'application/json',
      body: JSON.stringify({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'fz' } }),
    },
    {
      contentType: 'application/json',
      body: JSON.stringify({ kind: 'SelfSubjectRulesReview', spec: { namespace: 'team-a' } }),
    },
  ],
  // A signed-in browser: its page's API calls, the Kubernetes proxy, sign-out; sent from the page
  // (same-origin), typed in (none), or from another site (a link, a form, an <img>).
  exemplars: fc
    .tuple(
      fc.constantFrom('alice', 'bob', 'forged-only', 'both'),
      fc.constantFrom('same-origin', 'none', 'cross-site', 'same-site', undefined),
      fc.constantFrom(
        ['GET', '/api/me'],
        ['GET', '/api/me?namespace=team-b'],
        ['GET', '/api/config'],
        ['GET', '/k8s/api/v1/namespaces/team-a/pods'],
        ['GET', '/k8s/api/v1/namespaces/team-b/pods'],
        ['POST', '/k8s/api/v1/namespaces/team-b/pods'],
        ['POST', '/k8s/apis/authorization.k8s.io/v1/selfsubjectrulesreviews'],
        ['GET', '/logout'],
        ['POST', '/logout'],
        ['GET', '/login?returnTo=/api/me'],
      ),
    )
    .map(([who, site, [method, target]]): Exemplar => {
      const cookie =
        who === 'both'
          ? `${COOKIE}=${cookieOf('alice')}; ${COOKIE}=${cookieOf('bob')}`
          : who === 'forged-only'
            ? `${COOKIE}={{forged}}`
            : `${COOKIE}=${cookieOf(who)}`;
      const headers: Array<[string, string]> = [['Cookie', cookie]];
      if (site !== undefined) headers.push(['Sec-Fetch-Site', site]);
      if (method === 'POST') headers.push(['X-AKS-Broker', '1'], ['Origin', '{{origin}}']);
      return {
        method: method!,
        target: target!,
        headers,
        ...(method === 'POST' && target!.startsWith('/k8s')
          ? {
              body: {
                contentType: 'application/json',
                body: JSON.stringify({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'fz' } }),
              },
            }
          : {}),
      };
    }),
};

let entra: DevEntra;
let kube: KubeApi;
let redis: RunningRedis;
let app: LaunchedProcess;
let dir: string;
let federatedToken: string;
const kubeTokens = new Set<string>();
/** Every cookie value each user was ever given (a signed-out cookie is still that user's). */
const cookies: Record<SignedIn, string[]> = { 'alice@contoso.test': [], 'bob@contoso.test': [] };

/** What a browser sends on a top-level navigation (Fetch Metadata). */
const navigation = (site: 'none' | 'cross-site') => ({
  'sec-fetch-site': site,
  'sec-fetch-mode': 'navigate',
  'sec-fetch-dest': 'document',
});

/**
 * The browser's sign-in: /login (typed in), dev-entra's form as `user`, the redirect back to
 * /callback (a cross-site navigation from dev-entra) carrying the sealed login-state cookie /login
 * set (`__Host-aks-broker-login-<digest of the state>`).
 * Returns the session cookie.
 */
async function signIn(user: SignedIn): Promise<string> {
  const login = await fetch(new URL('/login', app.url), {
    redirect: 'manual',
    headers: navigation('none'),
  });
  await login.arrayBuffer();
  const authorize = login.headers.get('location');
  const state = login.headers
    .getSetCookie()
    .map((c) => c.split(';')[0]!)
    .filter((c) => c.startsWith(`${COOKIE}-login-`));
  if (login.status !== 302 || !authorize) throw new Error(`/login answered ${login.status}`);
  if (state.length !== 1)
    throw new Error(
      `/login set ${state.length} login-state cookies: ${login.headers.getSetCookie().join(' | ')}`,
    );
  const page = await fetch(authorize, { redirect: 'manual' });
  const html = await page.text();
  const action = /<form method="post" action="([^"]+)"/.exec(html)?.[1];
  const tx = /name="tx" value="([^"]+)"/.exec(html)?.[1];
  if (!action || !tx) throw new Error(`no sign-in form on dev-entra's page (${page.status})`);
  const picked = await fetch(new URL(action.replace(/&amp;/g, '&'), authorize), {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ tx, user }),
    redirect: 'manual',
  });
  await picked.arrayBuffer();
  const callback = picked.headers.get('location');
  if (picked.status !== 302 || !callback) throw new Error(`dev-entra's form answered ${picked.status}`);
  const done = await fetch(new URL(callback, app.url), {
    redirect: 'manual',
    headers: { ...navigation('cross-site'), cookie: state.join('; ') },
  });
  await done.arrayBuffer();
  const session = done.headers
    .getSetCookie()
    .map((c) => c.split(';')[0]!)
    .find((c) => c.startsWith(`${COOKIE}=`) && c.length > COOKIE.length + 1);
  if (done.status >= 400 || !session)
    throw new Error(`/callback answered ${done.status} without a session cookie`);
  const value = session.slice(COOKIE.length + 1);
  cookies[user].push(value);
  return value;
}

async function stillSignedIn(user: SignedIn): Promise<boolean> {
  const res = await fetch(new URL('/api/me', app.url), {
    headers: { cookie: `${COOKIE}=${cookies[user].at(-1)}` },
  });
  await res.arrayBuffer();
  return res.status === 200;
}

/** Users whose own (signed) cookie the request carries. */
function presented(req: SentRequest): Set<SignedIn> {
  const cookieText = req.headers
    .filter(([k]) => k.trim().toLowerCase() === 'cookie')
    .map(([, v]) => v)
    .join('\n');
  return new Set(SIGNED_IN.filter((u) => cookies[u].some((c) => cookieText.includes(c))));
}

const IDENTITIES = DEMO_USERS.map((u) => ({ upn: u.upn, marks: [u.upn, u.oid, u.name] }));

/**
 * A request that express routes to /api or /k8s (mount paths match case-insensitively, on the raw
 * path) and that carries one Sec-Fetch-Site naming another site, as a browser sends it.
 */
function fromAnotherSiteToTheApi(req: SentRequest): boolean {
  const path = req.target.split('?')[0]!.toLowerCase();
  if (!/^\/(api|k8s)(\/|$)/.test(path)) return false;
  const sites = req.headers
    .filter(([k]) => k.trim().toLowerCase() === 'sec-fetch-site')
    .map(([, v]) => v.trim());
  return sites.length === 1 && (sites[0] === 'cross-site' || sites[0] === 'same-site');
}

beforeAll(async () => {
  entra = await startDevEntra({ trust: true });
  const port = await freePort();
  const publicUrl = `http://127.0.0.1:${port}`;
  const registered = entra.registerApp({
    name: 'aks-broker',
    federatedSubject: SUBJECT,
    redirectUris: [`${publicUrl}/callback`],
  });
  const rbac = kubeRbac({ bindings: BINDINGS, issuer: entra.issuer });
  const authenticate = rbac.authenticate!;
  kube = await startKubeApi({
    ...rbac,
    authenticate: (token) => {
      kubeTokens.add(token);
      return authenticate(token);
    },
    // A watch the fuzzer opens ends by itself.
    maxWatchSeconds: 2,
  });
  for (const ns of ['team-a', 'team-b']) kube.addNamespace(ns);
  kube.addPod({ name: 'api-0', namespace: 'team-a', phase: 'Running' });
  kube.addPod({ name: 'db-0', namespace: 'team-b', phase: 'Running' });
  redis = await startRedis();
  dir = await mkdtemp(join(tmpdir(), 'fuzz-aks-broker-'));
  federatedToken = entra.issueFederatedToken({ subject: SUBJECT });
  await writeFile(join(dir, 'azure-identity-token'), federatedToken);
  await writeFile(join(dir, 'kube-ca.crt'), kube.caPem);
  app = await startApp('aks-broker', {
    PORT: String(port),
    AZURE_CLIENT_ID: registered.clientId,
    AZURE_TENANT_ID: entra.tenantId,
    AZURE_FEDERATED_TOKEN_FILE: join(dir, 'azure-identity-token'),
    AZURE_AUTHORITY_HOST: entra.url,
    NODE_EXTRA_CA_CERTS: entra.caPath,
    PUBLIC_URL: publicUrl,
    SESSION_SECRET,
    CACHE_ENCRYPTION_KEY: CACHE_KEY,
    REDIS_URL: redis.url,
    KUBE_API_URL: kube.url,
    KUBE_CA_FILE: join(dir, 'kube-ca.crt'),
    UI_NAMESPACES: 'team-a,team-b',
    // The per-user limit would answer most of the fuzzer's signed-in requests with 429.
    RATE_LIMIT_REQUESTS: '1000000',
    // Under this seed, after 1,000-1,600 requests, one /k8s call now and then gets no answer from the
    // kube-api stand-in on a pooled connection (not root-caused yet: see the README's "Seen, open").
    // The broker's own deadline must then answer 504 well before the fuzzer's 30 s no-answer limit.
    KUBE_REQUEST_TIMEOUT_SECONDS: '10',
  });
  for (const user of SIGNED_IN) await signIn(user);
});

afterAll(async () => {
  await app?.close();
  await redis?.close();
  await kube?.close();
  await entra?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

it("names a user only to that user's own cookie, and keeps the common properties", async () => {
  const seen = new Set<string>();
  let fromOtherSites = 0;
  const report = await runFuzz({
    app: 'aks-broker',
    process: app,
    alivePath: '/livez',
    vocabulary,
    values: () => {
      const alice = cookies['alice@contoso.test'].at(-1)!;
      const bob = cookies['bob@contoso.test'].at(-1)!;
      return {
        'cookie.alice': alice,
        'cookie.bob': bob,
        // Alice's session id under Bob's signature, and Alice's id unsigned.
        forged: `${alice.slice(0, alice.lastIndexOf('.'))}${bob.slice(bob.lastIndexOf('.'))}`,
        aliceid: alice.slice(0, alice.lastIndexOf('.')),
      };
    },
    secrets: () => [
      SESSION_SECRET,
      CACHE_KEY,
      redis.password,
      federatedToken,
      ...Object.values(cookies).flat(),
    ],
    tokens: () => [...kubeTokens],
    // Sign-out is fair game for the fuzzer: whoever it signed out signs in again.
    afterBatch: async () => {
      for (const user of SIGNED_IN) if (!(await stillSignedIn(user))) await signIn(user);
    },
    upstreamFailure: (ex, res) =>
      [502, 503, 504].includes(res.status) &&
      presented(ex.request).size > 0 &&
      /\/(k8s|api)\//.test(ex.request.target),
    check: (ex: Exchange, res: ParsedResponse) => {
      const text = responseText(res);
      const mine = presented(ex.request);
      const problems: string[] = [];
      if (fromAnotherSiteToTheApi(ex.request)) {
        fromOtherSites += 1;
        if (res.status >= 200 && res.status < 300)
          problems.push(`answered ${res.status} to a request from another site (Sec-Fetch-Site) on the API`);
      }
      for (const who of IDENTITIES) {
        if (!who.marks.some((m) => text.includes(m))) continue;
        seen.add(who.upn);
        if (!mine.has(who.upn as SignedIn))
          problems.push(
            `the response names ${who.upn}, but the request carries ${mine.size ? [...mine].join(' and ') : 'no'} session cookie`,
          );
      }
      return problems;
    },
  });
  expect(report.requests).toBe(fuzzSettings().runs);
  // Both users' identities were really shown (to their own cookies), so the property was exercised.
  expect([...seen].sort()).toEqual([...SIGNED_IN]);
  // Requests from other sites really reached the API's paths.
  expect(fromOtherSites).toBeGreaterThan(0);
});
