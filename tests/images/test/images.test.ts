// The five app images, built with podman from their committed Dockerfiles on the node:24-bookworm-slim
// base made offline (scripts/base-image.mjs), then booted:
//   - with the back-ends unreachable: /livez 200, /readyz its documented answer, the process's uid,
//     `podman healthcheck run`, and SIGTERM ending it with exit code 0;
//   - one real flow inside the container (host network, HOST=127.0.0.1) against dev-entra and the
//     stand-ins served by this test process, trusting dev-entra's CA from a mounted file.
// The run ends with a table per image: build seconds, size, app layers above the base, uid, /livez,
// health, SIGTERM, flow.
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startDevEntra, type DevEntra } from '@auth-sidecars/dev-entra';
import {
  CARTA_SERVICE_ACCOUNT,
  DEMO_BINDINGS,
  DEMO_NAMESPACE,
  seedDemoCluster,
} from '@auth-sidecars/testkit/demo-data';
import { startKubeApi, type KubeApi } from '@auth-sidecars/testkit/kube-api';
import { AKS_AUDIENCE, kubeRbac } from '@auth-sidecars/testkit/kube-rbac';
import { startOpenAiUpstream, type OpenAiUpstream } from '@auth-sidecars/testkit/openai-upstream';
import { freePort, startPrometheus, type RunningPrometheus } from '@auth-sidecars/testkit/prometheus';
import { startTokenGate, type TokenGate } from '@auth-sidecars/testkit/prometheus-gate';
import { ensureBase, ensureBuilt, type BaseImage, type Build } from './support/images.js';
import {
  containerLogs,
  containerState,
  containerUids,
  inspectImage,
  podman,
  podmanOk,
  registry,
  removeContainer,
  repoRoot,
  say,
  startContainer,
  until,
  type ImageInfo,
} from './support/podman.js';

const APPS = ['prom-sidecar', 'openai-proxy', 'token-server', 'carta-forwardauth', 'aks-broker'] as const;
type App = (typeof APPS)[number];
const RUNTIME_UID = 10001;
/** What an image's app directory holds: the bundle (scripts/runtime-tree.mjs --bundle), its package.json and published files. */
const RUNTIME_FILES: Record<App, string[]> = {
  'prom-sidecar': ['bundle', 'package.json'],
  'openai-proxy': ['bundle', 'package.json'],
  'token-server': ['bundle', 'package.json'],
  'carta-forwardauth': ['bundle', 'package.json'],
  'aks-broker': ['bundle', 'package.json', 'public'],
};
/** This checkout's test containers (startContainer replaces a leftover of the same name). */
const CONTAINER_PREFIX = `${registry.replace(/^localhost\//, '')}-`;
const MB = (bytes: number) => `${(bytes / 1e6).toFixed(1)} MB`;

// ---------------------------------------------------------------- the world on the host

const SECRETS = {
  promSidecar: 'image-test-prom-sidecar-client-secret',
  tokenServer: 'image-test-token-server-shared-secret',
  session: 'image-test-session-secret-image-test-session-secret',
  cacheKey: Buffer.alloc(32, 9).toString('base64'),
};
const SCOPE = 'https://management.azure.com/.default';
/** Paths of the mounted files inside the containers. */
const IN = {
  ca: '/etc/dev-entra/ca.pem',
  cert: '/var/run/secrets/openai-proxy/cert.pem',
  token: '/var/run/secrets/azure/tokens/azure-identity-token',
  kubeconfig: '/etc/carta-forwardauth/kubeconfig',
  kubeCa: '/etc/kube/ca.pem',
};

interface World {
  dir: string;
  entra: DevEntra;
  prometheus: RunningPrometheus;
  gate: TokenGate;
  upstream: OpenAiUpstream;
  kube: KubeApi;
  clientIds: Record<'promSidecar' | 'openaiProxy' | 'tokenServer' | 'aksBroker', string>;
  /** Files on the host, mounted read-only into the containers. */
  files: { cert: string; tokenServerToken: string; brokerToken: string; kubeconfig: string; kubeCa: string };
  closed: { https: string; http: string; kubeconfig: string };
  close(): Promise<void>;
}

async function startWorld(): Promise<World> {
  // Readable by the containers' uid 10001: a 0755 directory of 0644 files (demo credentials only).
  const dir = mkdtempSync(join(tmpdir(), 'image-tests-'));
  chmodSync(dir, 0o755);
  const file = (name: string, content: string) => {
    const path = join(dir, name);
    writeFileSync(path, content, { mode: 0o644 });
    return path;
  };
  const entra = await startDevEntra({ caPath: join(dir, 'dev-entra-ca.pem') });
  chmodSync(entra.caPath, 0o644);
  entra.trust(); // this process signs in to aks-broker like a browser, through dev-entra's pages
  const cert = await entra.createClientCertificate();
  const clientIds = {
    promSidecar: entra.registerApp({ name: 'prom-sidecar', clientSecret: SECRETS.promSidecar }).clientId,
    openaiProxy: entra.registerApp({ name: 'openai-proxy', certificatePem: cert.certPem }).clientId,
    tokenServer: entra.registerApp({
      name: 'token-server',
      federatedSubject: 'system:serviceaccount:images:token-server',
    }).clientId,
    aksBroker: entra.registerApp({
      name: 'aks-broker',
      federatedSubject: 'system:serviceaccount:images:aks-broker',
      redirectUris: ['http://127.0.0.1/callback'],
    }).clientId,
  };
  const [prometheus, upstream, kube] = await Promise.all([
    startPrometheus(),
    startOpenAiUpstream({
      verify: (t) => entra.verifyAccessToken(t, { audience: 'https://cognitiveservices.azure.com' }),
    }),
    startKubeApi({
      defaultNamespace: DEMO_NAMESPACE,
      ...kubeRbac({ bindings: DEMO_BINDINGS, issuer: entra.issuer, audience: AKS_AUDIENCE }),
    }),
  ]);
  seedDemoCluster(kube);
  const gate = await startTokenGate({
    upstream: prometheus.url,
    verify: (t) => entra.verifyAccessToken(t, { audience: 'https://prometheus.monitor.azure.com' }),
  });
  const kubeconfig = kube.kubeconfig(CARTA_SERVICE_ACCOUNT, DEMO_NAMESPACE);
  const closedPort = await freePort();
  return {
    dir,
    entra,
    prometheus,
    gate,
    upstream,
    kube,
    clientIds,
    files: {
      cert: file('openai-proxy.pem', cert.pem),
      tokenServerToken: file(
        'token-server.jwt',
        entra.issueFederatedToken({ subject: 'system:serviceaccount:images:token-server' }),
      ),
      brokerToken: file(
        'aks-broker.jwt',
        entra.issueFederatedToken({ subject: 'system:serviceaccount:images:aks-broker' }),
      ),
      kubeconfig: file('kubeconfig', kubeconfig),
      kubeCa: file('kube-ca.pem', kube.caPem),
    },
    // Nothing listens there: the back-ends of the boot checks.
    closed: {
      https: `https://127.0.0.1:${closedPort}`,
      http: `http://127.0.0.1:${closedPort}`,
      kubeconfig: file(
        'kubeconfig-unreachable',
        kubeconfig.replaceAll(kube.url, `https://127.0.0.1:${closedPort}`),
      ),
    },
    async close() {
      await Promise.allSettled([gate.close(), upstream.close(), kube.close()]);
      await Promise.allSettled([prometheus.close(), entra.close()]);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

// ---------------------------------------------------------------- per app: environment and flow

interface Setup {
  env: Record<string, string>;
  mounts: Record<string, string>;
}

/** Entra settings pointing at `authority` (dev-entra, or nothing), trusting dev-entra's CA. */
function entraEnv(w: World, authority: string, clientId: string): Record<string, string> {
  return {
    AZURE_AUTHORITY_HOST: authority,
    AZURE_TENANT_ID: w.entra.tenantId,
    AZURE_CLIENT_ID: clientId,
    AZURE_DISABLE_INSTANCE_DISCOVERY: 'true',
    NODE_EXTRA_CA_CERTS: IN.ca,
  };
}

/** The app's configuration; `reachable` false points every back-end at a closed port. */
function setup(app: App, w: World, port: number, reachable: boolean, probePort = port): Setup {
  const authority = reachable ? w.entra.url : w.closed.https;
  const base = { HOST: '127.0.0.1', PORT: String(port), LOG_LEVEL: 'info' };
  const ca = { [w.entra.caPath]: IN.ca };
  switch (app) {
    case 'prom-sidecar':
      return {
        env: {
          ...base,
          ...entraEnv(w, authority, w.clientIds.promSidecar),
          AZURE_CLIENT_SECRET: SECRETS.promSidecar,
          PROMETHEUS_QUERY_ENDPOINT: reachable ? w.gate.url : w.closed.http,
          START_WITHOUT_TOKEN: 'true',
        },
        mounts: ca,
      };
    case 'openai-proxy':
      return {
        env: {
          ...base,
          ...entraEnv(w, authority, w.clientIds.openaiProxy),
          AZURE_CERTIFICATE_PATH: IN.cert,
          API_BASE_URL: reachable ? w.upstream.url : w.closed.http,
          START_WITHOUT_TOKEN: 'true',
        },
        mounts: { ...ca, [w.files.cert]: IN.cert },
      };
    case 'token-server':
      return {
        env: {
          ...base,
          ...entraEnv(w, authority, w.clientIds.tokenServer),
          AZURE_FEDERATED_TOKEN_FILE: IN.token,
          AZD_AUTH_SECRET: SECRETS.tokenServer,
          // Readiness then depends on Entra (without warm scopes /readyz is always 200).
          TOKEN_SERVER_WARM_SCOPES: SCOPE,
        },
        mounts: { ...ca, [w.files.tokenServerToken]: IN.token },
      };
    case 'carta-forwardauth':
      return {
        // Probes on their own port: on PORT every path is a decision.
        env: {
          ...base,
          PROBE_PORT: String(probePort),
          KUBECONFIG: IN.kubeconfig,
          TARGET_NAMESPACE: DEMO_NAMESPACE,
        },
        mounts: { [reachable ? w.files.kubeconfig : w.closed.kubeconfig]: IN.kubeconfig },
      };
    case 'aks-broker':
      return {
        env: {
          ...base,
          ...entraEnv(w, authority, w.clientIds.aksBroker),
          AZURE_FEDERATED_TOKEN_FILE: IN.token,
          PUBLIC_URL: `http://127.0.0.1:${port}`,
          SESSION_SECRET: SECRETS.session,
          COOKIE_SECURE: 'false',
          CACHE_ENCRYPTION_KEY: SECRETS.cacheKey,
          KUBE_API_URL: reachable ? w.kube.url : w.closed.https,
          KUBE_CA_FILE: IN.kubeCa,
          UI_NAMESPACES: 'team-a,team-b',
        },
        mounts: { ...ca, [w.files.brokerToken]: IN.token, [w.files.kubeCa]: IN.kubeCa },
      };
  }
}

/** Where the app answers its probes: carta-forwardauth on a port of its own (PROBE_PORT). */
async function probePortOf(app: App, port: number): Promise<number> {
  return app === 'carta-forwardauth' ? freePort() : port;
}

/** What /readyz answers with every back-end unreachable (each app's README). */
const READYZ_UNREACHABLE: Record<App, number> = {
  'prom-sidecar': 503, // no valid token (START_WITHOUT_TOKEN=true keeps it up)
  'openai-proxy': 503, // no valid token
  'token-server': 503, // the warm scope holds no token
  'carta-forwardauth': 503, // informers not synced
  'aks-broker': 503, // the authority's OpenID metadata is not loaded
};

async function expectStatus(res: Response, status: number): Promise<string> {
  const text = await res.text();
  if (res.status !== status)
    throw new Error(`${res.url}: HTTP ${res.status} (expected ${status}): ${text.slice(0, 300)}`);
  return text;
}

/** One real flow through the app in its container; returns a one-line summary for the table. */
const FLOWS: Record<App, (url: string, w: World, probeUrl: string) => Promise<string>> = {
  async 'prom-sidecar'(url, w) {
    const series = await until('a PromQL answer through the sidecar', async () => {
      const body = JSON.parse(await expectStatus(await fetch(`${url}/api/v1/query?query=up`), 200)) as {
        status: string;
        data: { result: unknown[] };
      };
      return body.status === 'success' && body.data.result.length > 0 && body.data.result.length;
    });
    // The gate let it through because of the sidecar's token (it refuses the same query without).
    expect(w.gate.decisions.some((d) => d.status === 200 && d.url.includes('query=up'))).toBe(true);
    await expectStatus(await fetch(`${w.gate.url}/api/v1/query?query=up`), 401);
    return `PromQL up: ${series} series via the gate`;
  },
  async 'openai-proxy'(url, w) {
    const res = await fetch(`${url}/openai/deployments/gpt-4o-mini/chat/completions?api-version=2024-10-21`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'api-key': 'client-key-must-not-pass' },
      body: JSON.stringify({ messages: [{ role: 'user', content: 'Say hello' }], stream: true }),
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/event-stream');
    let reads = 0;
    let text = '';
    const decoder = new TextDecoder();
    for await (const chunk of res.body!) {
      reads += 1;
      text += decoder.decode(chunk as Uint8Array, { stream: true });
    }
    const events = text.split('\n').filter((l) => l.startsWith('data: '));
    expect(events.at(-1)).toBe('data: [DONE]');
    expect(events.length).toBeGreaterThan(2);
    // The stream came in pieces (the stand-in spaces its chunks), not as one buffered body.
    expect(reads).toBeGreaterThan(1);
    const seen = w.upstream.requests.at(-1)!;
    expect(seen.headers['api-key']).toBeUndefined();
    expect(seen.claims?.aud).toBe('https://cognitiveservices.azure.com');
    return `streamed chat: ${events.length} SSE events in ${reads} reads`;
  },
  async 'token-server'(url, w) {
    const token = JSON.parse(
      await expectStatus(
        await fetch(`${url}/token?scope=${encodeURIComponent(SCOPE)}`, {
          headers: { authorization: `Bearer ${SECRETS.tokenServer}` },
        }),
        200,
      ),
    ) as { access_token: string };
    const claims = await w.entra.verifyAccessToken(token.access_token, {
      audience: 'https://management.azure.com',
    });
    expect(claims.appid ?? claims.azp).toBe(w.clientIds.tokenServer);
    const msi = JSON.parse(
      await expectStatus(
        await fetch(`${url}/msi/token?resource=https://management.azure.com&api-version=2019-08-01`, {
          headers: { 'x-identity-header': SECRETS.tokenServer },
        }),
        200,
      ),
    ) as { access_token: string };
    await w.entra.verifyAccessToken(msi.access_token, { audience: 'https://management.azure.com' });
    await expectStatus(
      await fetch(`${url}/token?scope=${encodeURIComponent(SCOPE)}`, {
        headers: { authorization: 'Bearer wrong' },
      }),
      401,
    );
    return '/token 200, /msi/token 200, wrong secret 401';
  },
  async 'carta-forwardauth'(url, _w, probeUrl) {
    await until(
      'carta-forwardauth ready (informers synced)',
      async () => (await fetch(`${probeUrl}/readyz`)).status === 200,
    );
    const allow = await fetch(`${url}/`, { headers: { 'x-forwarded-uri': '/session/carta/abc123/' } });
    await expectStatus(allow, 200);
    expect(allow.headers.get('carta-auth-token')).toBe('alice');
    const deny = await fetch(`${url}/`, { headers: { 'x-forwarded-uri': '/session/carta/nosuch0/' } });
    await expectStatus(deny, 403);
    expect(deny.headers.get('carta-auth-token')).toBeNull();
    return 'allow abc123 -> alice, deny nosuch0 -> 403';
  },
  async 'aks-broker'(url, w) {
    await expectStatus(await fetch(`${url}/livez`), 200);
    await until(
      'aks-broker ready (authority metadata)',
      async () => (await fetch(`${url}/readyz`)).status === 200,
    );
    const user = await signIn(url, w, 'bob@contoso.test');
    expect(user.me).toContain('bob@contoso.test');
    expect(user.teamA.status).toBe(200);
    expect(user.teamA.body).toContain('api-0');
    expect(user.teamB.status).toBe(403);
    return 'livez 200; signed in as bob (federated credential): team-a pods 200, team-b 403';
  },
};

/** The browser's part of the sign-in: /login -> dev-entra's page -> pick a user -> /callback. */
async function signIn(url: string, w: World, upn: string) {
  const cookies = new Map<string, string>();
  const get = async (path: string) => {
    const res = await fetch(new URL(path, url), {
      headers: cookies.size ? { cookie: [...cookies].map(([k, v]) => `${k}=${v}`).join('; ') } : {},
      redirect: 'manual',
    });
    for (const c of res.headers.getSetCookie()) {
      const pair = c.split(';')[0]!;
      cookies.set(pair.slice(0, pair.indexOf('=')), pair.slice(pair.indexOf('=') + 1));
    }
    return res;
  };
  const login = await get('/login');
  const authorize = login.headers.get('location') ?? '';
  expect({ status: login.status, toEntra: authorize.startsWith(w.entra.url) }).toEqual({
    status: 302,
    toEntra: true,
  });
  const page = await (await fetch(authorize)).text();
  const action = /<form method="post" action="([^"]+)"/.exec(page)?.[1];
  const tx = /name="tx" value="([^"]+)"/.exec(page)?.[1];
  expect({ action: Boolean(action), tx: Boolean(tx) }).toEqual({ action: true, tx: true });
  const picked = await fetch(new URL(action!.replace(/&amp;/g, '&'), authorize), {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ tx: tx!, user: upn }),
    redirect: 'manual',
  });
  const callback = await get(picked.headers.get('location') ?? '/callback');
  await expectStatus(callback, 303);
  const me = await expectStatus(await get('/api/me'), 200);
  const teamA = await get('/k8s/api/v1/namespaces/team-a/pods');
  const teamB = await get('/k8s/api/v1/namespaces/team-b/pods');
  return {
    me,
    teamA: { status: teamA.status, body: await teamA.text() },
    teamB: { status: teamB.status, body: await teamB.text() },
  };
}

// ---------------------------------------------------------------- the tests

interface Row {
  build: string;
  size: string;
  aboveBase: string;
  uid: string;
  livez: string;
  readyz: string;
  health: string;
  sigterm: string;
  flow: string;
}
const rows = new Map<App, Partial<Row>>(APPS.map((a) => [a, {}]));
const note = (app: App, fields: Partial<Row>) => Object.assign(rows.get(app)!, fields);

let base: BaseImage;
let baseInfo: ImageInfo;
let builds: Map<string, Build>;
let world: World;

beforeAll(async () => {
  base = await ensureBase();
  baseInfo = await inspectImage(base.image);
  say(
    `base image ${base.image}: ${base.cached ? 'cached' : `made in ${base.seconds} s`} (recipe ${base.recipe}), ${MB(baseInfo.size)}\n`,
  );
  builds = await ensureBuilt([...APPS]);
  for (const [app, b] of builds)
    note(app as App, { build: b.ok ? `${b.seconds} s` : `FAILED (${b.seconds} s)` });
  world = await startWorld();
}, 60 * 60_000);

afterAll(async () => {
  await world?.close();
  const header = [
    'image',
    'build',
    'size',
    'above base',
    'uid',
    '/livez',
    '/readyz',
    'health',
    'SIGTERM',
    'flow',
  ];
  const table = [
    header,
    ...APPS.map((app) => {
      const r = rows.get(app)!;
      return [app, r.build, r.size, r.aboveBase, r.uid, r.livez, r.readyz, r.health, r.sigterm, r.flow].map(
        (v) => v ?? '-',
      );
    }),
  ];
  const widths = header.map((_, i) => Math.max(...table.map((r) => r[i]!.length)));
  const lines = table.map((r) =>
    r
      .map((v, i) => v.padEnd(widths[i]!))
      .join('  ')
      .trimEnd(),
  );
  const text = `images (base ${base?.image ?? '-'}, ${baseInfo ? MB(baseInfo.size) : '-'}):\n${lines.join('\n')}\n`;
  say(`\n${text}`);
  mkdirSync(join(import.meta.dirname, '..', 'test-results'), { recursive: true });
  writeFileSync(join(import.meta.dirname, '..', 'test-results', 'images.txt'), text);
});

function built(app: App): Build {
  const b = builds.get(app)!;
  if (!b.ok) throw new Error(`podman build of apps/${app}/Dockerfile failed (log: ${b.log}):\n${b.tail}`);
  return b;
}

describe.each(APPS)('%s image', (app) => {
  it('is built from its committed Dockerfile on the base: non-root, HEALTHCHECK kept, only its runtime tree', async () => {
    const info = await inspectImage(built(app).ref);
    expect(info.user).toBe(`${RUNTIME_UID}:${RUNTIME_UID}`);
    expect(info.healthcheck.join(' ')).toContain('/livez');
    // The command its Dockerfile names (the bundle with the image's node flags, issue 16).
    const committedCmd = /^CMD (\[.*\])$/m.exec(
      readFileSync(join(repoRoot, 'apps', app, 'Dockerfile'), 'utf8'),
    );
    expect(info.cmd).toEqual(JSON.parse(committedCmd![1]!));
    expect(info.cmd.at(-1)).toBe(`apps/${app}/bundle/main.js`);
    // It starts from the base image made offline: the base's layers, then the app's own.
    expect(info.layers.slice(0, baseInfo.layers.length)).toEqual(baseInfo.layers);
    note(app, { size: MB(info.size), aboveBase: MB(info.size - baseInfo.size) });
    const listing = await podmanOk([
      'run',
      '--rm',
      '--network',
      'none',
      '--entrypoint',
      '/bin/sh',
      built(app).ref,
      '-c',
      // One name per line, `--` between the listings.
      'ls /app; echo --; ls /app/apps; echo --; ls /app/apps/*',
    ]);
    const [top, appsDir, own] = listing
      .split(/^--$/m)
      .map((part) => part.split('\n').filter((l) => l.trim() !== ''));
    // The bundle holds the app and every package it imports: no node_modules, no other workspace.
    expect(top).toEqual(['apps']);
    expect(appsDir).toEqual([app]);
    expect(own).toEqual(RUNTIME_FILES[app]);
  }, 120_000);

  it('boots with its back-ends unreachable: /livez 200, /readyz as documented, non-root uid, health check passes, SIGTERM exits 0', async () => {
    const name = `${CONTAINER_PREFIX}${app}-boot`;
    const port = await freePort();
    const probePort = await probePortOf(app, port);
    const { env, mounts } = setup(app, world, port, false, probePort);
    await startContainer({ name, image: built(app).ref, env, mounts });
    try {
      const url = `http://127.0.0.1:${probePort}`;
      const livez = await until(`${app} /livez`, async () => {
        const state = await containerState(name);
        if (!state.running) throw new Error(`exited ${state.exitCode}:\n${await containerLogs(name)}`);
        const res = await fetch(`${url}/livez`);
        return res.status === 200 && res.status;
      });
      note(app, { livez: String(livez) });
      const readyz = await fetch(`${url}/readyz`);
      await readyz.text();
      expect(readyz.status).toBe(READYZ_UNREACHABLE[app]);
      note(app, { readyz: String(readyz.status) });

      const uids = await containerUids(name);
      expect(uids).toEqual([RUNTIME_UID, RUNTIME_UID, RUNTIME_UID, RUNTIME_UID]);
      note(app, { uid: String(uids[0]) });

      // As Docker would: the check may fail a few times on a busy machine before it passes.
      let attempts = 0;
      await until(
        `${app} podman healthcheck run`,
        async () => {
          attempts += 1;
          const r = await podman(['healthcheck', 'run', name], { timeoutMs: 60_000 });
          if (r.code !== 0) throw new Error(`exit ${r.code}: ${`${r.stdout}${r.stderr}`.trim()}`);
          return true;
        },
        120_000,
        2000,
      );
      note(app, { health: attempts === 1 ? 'healthy' : `healthy (try ${attempts})` });

      await podmanOk(['kill', '--signal', 'TERM', name]);
      const code = await podmanOk(['wait', name], { timeoutMs: 120_000 });
      const logs = await containerLogs(name);
      expect({ code, logs }).toEqual({ code: '0', logs: expect.any(String) });
      note(app, { sigterm: `exit ${code}` });
    } finally {
      await removeContainer(name);
    }
  }, 300_000);

  it(`runs its real flow inside the container against dev-entra and the stand-ins on the host`, async () => {
    const name = `${CONTAINER_PREFIX}${app}-flow`;
    const port = await freePort();
    const probePort = await probePortOf(app, port);
    const { env, mounts } = setup(app, world, port, true, probePort);
    await startContainer({ name, image: built(app).ref, env, mounts });
    try {
      const url = `http://127.0.0.1:${port}`;
      await until(`${app} /livez`, async () => {
        const state = await containerState(name);
        if (!state.running) throw new Error(`exited ${state.exitCode}:\n${await containerLogs(name)}`);
        return (await fetch(`http://127.0.0.1:${probePort}/livez`)).status === 200;
      });
      try {
        note(app, { flow: await FLOWS[app](url, world, `http://127.0.0.1:${probePort}`) });
      } catch (err) {
        note(app, { flow: 'FAILED' });
        throw new Error(`${(err as Error).message}\n--- container log ---\n${await containerLogs(name)}`);
      }
    } finally {
      await removeContainer(name);
    }
  }, 300_000);
});
