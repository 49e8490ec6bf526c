// Test world for the broker: dev-entra (real OAuth over HTTPS), the Kubernetes API stand-in with
// RBAC keyed on dev-entra users, a federated token file, and a broker run in-process (startService,
// as main.ts runs it) with its log lines captured. Plus a cookie-jar client that signs in through
// dev-entra's sign-in form the way a browser does, without a browser.
import { mkdtemp, rm, writeFile, rename } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import type { IncomingHttpHeaders } from 'node:http';
import { randomBytes } from 'node:crypto';
import {
  createCertificateAuthority,
  createServerCertificate,
  startDevEntra,
  trustDevEntraCa,
  type DevEntra,
  type RegisteredApp,
} from '@auth-sidecars/dev-entra';
import type { Router } from 'express';
import { startKubeApi, type KubeApi, type KubeUser } from '@auth-sidecars/testkit/kube-api';
import { kubeRbac, type RbacBinding } from '@auth-sidecars/testkit/kube-rbac';
import { createLogger } from '@auth-sidecars/service-kit';
import { launchApp, type LaunchedProcess } from '@auth-sidecars/testkit/process';
import { freePort } from '@auth-sidecars/testkit/prometheus';
import { loadBrokerConfig, type BrokerConfig } from '../src/config.js';
import type { BuiltDeps } from '../src/deps.js';
import { startService } from '../src/service.js';

export const ALICE = 'alice@contoso.test';
export const BOB = 'bob@contoso.test';
export const CAROL = 'carol@contoso.test';
export const FEDERATED_SUBJECT = 'system:serviceaccount:platform:aks-broker';
export const SESSION_SECRET = 's'.repeat(40);
export const CACHE_KEY = Buffer.alloc(32, 42).toString('base64');

/** alice: pods and services in team-a (and their web pages, pods/proxy); bob: pods in team-b; carol: nothing. */
export const BINDINGS: RbacBinding[] = [
  {
    users: [ALICE],
    namespace: 'team-a',
    rules: [
      { verbs: ['get', 'list', 'watch'], resources: ['pods', 'services'] },
      { verbs: ['get'], resources: ['pods/proxy'] },
    ],
  },
  { users: [BOB], namespace: 'team-b', rules: [{ verbs: ['get', 'list', 'watch'], resources: ['pods'] }] },
];

/**
 * What the pods in the stand-in serve through `pods/<name>/proxy`: a page an attacker who controls a
 * pod would serve, with its own CSP, framing, CORS and cookie headers. Its script, if it ever runs on
 * the broker's origin, lists pods with `labelSelector=xss=ran` as whoever opened it.
 */
export const HOSTILE_POD_PAGE = `<!doctype html><title>pod page</title><p>hello from a pod</p>
<script>fetch('/k8s/api/v1/namespaces/team-a/pods?labelSelector=xss%3Dran', { headers: { 'x-aks-broker': '1' } });</script>`;
export const HOSTILE_POD_HEADERS: Record<string, string> = {
  'content-type': 'text/html; charset=utf-8',
  'content-security-policy': "default-src * 'unsafe-inline'",
  'x-frame-options': 'ALLOWALL',
  'access-control-allow-origin': 'https://evil.example',
  'access-control-allow-credentials': 'true',
  'set-cookie': '__Host-aks-broker=planted; Path=/; Secure; HttpOnly',
  refresh: '0; url=https://evil.example/',
  link: '<https://evil.example/x.js>; rel=preload; as=script',
};

/** Switches for stand-in misbehaviour the tests turn on and off, and what the stand-in saw. */
export interface KubeFaults {
  /** The rules review answers its head, then never finishes its body. */
  stallRulesReview: boolean;
  /** Requests by this user get a response head and a first chunk, then nothing more (a body that trickles for ever). */
  trickleFor?: string;
  /** Request headers of the last 50 authenticated requests, newest last. */
  seenHeaders: IncomingHttpHeaders[];
}

export interface World {
  entra: DevEntra;
  kube: KubeApi;
  faults: KubeFaults;
  app: RegisteredApp;
  dir: string;
  tokenFile: string;
  /** Atomically replaces the federated token file (as the kubelet does) with a fresh token. */
  rotateFederatedToken(subject?: string): Promise<string>;
  baseEnv(extra?: Record<string, string | undefined>): Record<string, string | undefined>;
  close(): Promise<void>;
}

export async function startWorld(
  options: { redirectUris?: string[]; bindings?: RbacBinding[] } = {},
): Promise<World> {
  const entra = await startDevEntra({ trust: true });
  const app = entra.registerApp({
    name: 'aks-broker',
    federatedSubject: FEDERATED_SUBJECT,
    redirectUris: options.redirectUris ?? ['http://127.0.0.1/callback'],
  });
  const faults: KubeFaults = { stallRulesReview: false, seenHeaders: [] };
  const rbac = kubeRbac({ bindings: options.bindings ?? BINDINGS, issuer: entra.issuer });
  const kube = await startKubeApi({
    ...rbac,
    extraRoutes: (router, api) => {
      standInExtras(router, api, faults);
      rbac.extraRoutes?.(router, api);
    },
  });
  for (const ns of ['team-a', 'team-b']) kube.addNamespace(ns);
  kube.addPod({ name: 'api-0', namespace: 'team-a', phase: 'Running' });
  kube.addPod({ name: 'worker-0', namespace: 'team-a', phase: 'Pending' });
  kube.addPod({ name: 'db-0', namespace: 'team-b', phase: 'Running' });
  const dir = await mkdtemp(join(tmpdir(), 'aks-broker-test-'));
  const tokenFile = join(dir, 'azure-identity-token');
  const caFile = join(dir, 'kube-ca.crt');
  await writeFile(caFile, kube.caPem);
  const rotateFederatedToken = async (subject = FEDERATED_SUBJECT) => {
    const token = entra.issueFederatedToken({ subject });
    await writeFile(`${tokenFile}.new`, token);
    await rename(`${tokenFile}.new`, tokenFile);
    return token;
  };
  await rotateFederatedToken();
  return {
    entra,
    kube,
    faults,
    app,
    dir,
    tokenFile,
    rotateFederatedToken,
    baseEnv: (extra = {}) => ({
      HOST: '127.0.0.1',
      PORT: '0',
      LOG_LEVEL: 'debug',
      AZURE_CLIENT_ID: app.clientId,
      AZURE_TENANT_ID: entra.tenantId,
      AZURE_FEDERATED_TOKEN_FILE: tokenFile,
      AZURE_AUTHORITY_HOST: entra.url,
      PUBLIC_URL: 'http://127.0.0.1:1',
      SESSION_SECRET,
      COOKIE_SECURE: 'false',
      CACHE_ENCRYPTION_KEY: CACHE_KEY,
      KUBE_API_URL: kube.url,
      KUBE_CA_FILE: caFile,
      UI_NAMESPACES: 'team-a,team-b',
      ...extra,
    }),
    close: async () => {
      await kube.close();
      await entra.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** pods/<name>/proxy serving HOSTILE_POD_PAGE (RBAC-checked), and the fault switches. */
function standInExtras(router: Router, api: KubeApi, faults: KubeFaults): void {
  router.use((req, res, next) => {
    faults.seenHeaders.push({ ...req.headers });
    if (faults.seenHeaders.length > 50) faults.seenHeaders.shift();
    if (faults.trickleFor !== undefined && (res.locals.user as KubeUser).username === faults.trickleFor) {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"kind":"PodList","items":[');
      return;
    }
    next();
  });
  router.all(/^\/api\/v1\/namespaces\/([^/]+)\/pods\/([^/]+)\/proxy(\/.*)?$/, async (req, res) => {
    const [namespace, name] = [req.params[0]!, req.params[1]!];
    const allowed = await api.isAllowed({
      user: res.locals.user as KubeUser,
      verb: 'get',
      apiGroup: '',
      resource: 'pods',
      subresource: 'proxy',
      namespace,
      name,
      path: req.path,
    });
    if (!allowed) {
      res.status(403).json({ kind: 'Status', status: 'Failure', reason: 'Forbidden', code: 403 });
      return;
    }
    if (req.params[2] === '/redirect') {
      res.writeHead(302, { location: 'https://evil.example/phish' });
      res.end();
      return;
    }
    res.writeHead(200, HOSTILE_POD_HEADERS);
    res.end(HOSTILE_POD_PAGE);
  });
  router.post('/apis/authorization.k8s.io/v1/selfsubjectrulesreviews', (_req, res, next) => {
    if (!faults.stallRulesReview) return next();
    res.writeHead(201, { 'content-type': 'application/json' });
    res.write('{"kind":"SelfSubjectRulesReview",');
  });
}

export interface InProcessBroker {
  url: string;
  config: BrokerConfig;
  deps: BuiltDeps;
  /** Every log line (JSON text) so far. */
  lines: string[];
  logs(): Array<Record<string, unknown>>;
  close(): Promise<void>;
}

/**
 * Runs the broker in this process on a loopback port; PUBLIC_URL is its own URL. With `tls`, it
 * serves HTTPS with a certificate from a CA of its own, trusted in this process and named as
 * PUBLIC_CA_FILE (kubectl sends no credential to a plain-http server).
 */
export async function startBroker(
  world: World,
  extraEnv: Record<string, string | undefined> = {},
  /** `port`: a fixed one (from freePort), when the redirect URI registered at dev-entra must name it. */
  options: { tls?: boolean; port?: number } = {},
): Promise<InProcessBroker> {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const line of chunk.toString('utf8').split('\n')) if (line.trim() !== '') lines.push(line);
      cb();
    },
  });
  const logger = createLogger({ service: 'aks-broker', level: 'debug', stream });
  const tlsEnv: Record<string, string> = {};
  if (options.tls) {
    const ca = await createCertificateAuthority('aks-broker test CA');
    const cert = await createServerCertificate(ca, { dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'] });
    const tag = randomBytes(4).toString('hex');
    Object.assign(tlsEnv, {
      TLS_CERT_FILE: join(world.dir, `broker-${tag}.crt`),
      TLS_KEY_FILE: join(world.dir, `broker-${tag}.key`),
      PUBLIC_CA_FILE: join(world.dir, `broker-${tag}-ca.crt`),
      COOKIE_SECURE: 'true',
    });
    await writeFile(tlsEnv.TLS_CERT_FILE!, cert.certPem);
    await writeFile(tlsEnv.TLS_KEY_FILE!, cert.keyPem);
    await writeFile(tlsEnv.PUBLIC_CA_FILE!, ca.certPem);
    trustDevEntraCa(ca.certPem);
  }
  // PUBLIC_URL names the broker's own port, so the port is picked first; another process may take
  // a picked port in between, hence a few tries (a fixed port gets one).
  for (let attempt = 1; ; attempt++) {
    const port = options.port ?? (await freePort());
    const publicUrl = `${options.tls ? 'https' : 'http'}://127.0.0.1:${port}`;
    const config = loadBrokerConfig(
      world.baseEnv({ PORT: String(port), PUBLIC_URL: publicUrl, ...tlsEnv, ...extraEnv }),
    );
    try {
      const service = await startService(config, { logger, shutdownTimeoutMs: 2_000 });
      return {
        url: service.url,
        config,
        deps: service.deps,
        lines,
        logs: () =>
          lines.flatMap((l) => {
            try {
              return [JSON.parse(l) as Record<string, unknown>];
            } catch {
              return [];
            }
          }),
        close: async () => {
          await service.close();
        },
      };
    } catch (error) {
      const retry = options.port === undefined && attempt < 5;
      if ((error as NodeJS.ErrnoException).code !== 'EADDRINUSE' || !retry) throw error;
    }
  }
}

export interface Answer {
  status: number;
  headers: Headers;
  text: string;
  json<T = unknown>(): T;
}

/** A browser without a browser: one cookie jar, manual redirects, dev-entra's sign-in form. */
export class Client {
  readonly cookies = new Map<string, string>();

  constructor(readonly baseUrl: string) {}

  cookieHeader(): string {
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  }

  async fetch(pathOrUrl: string, init: RequestInit = {}): Promise<Answer> {
    const url = new URL(pathOrUrl, this.baseUrl);
    const headers = new Headers(init.headers);
    const sameOrigin = url.origin === new URL(this.baseUrl).origin;
    if (sameOrigin && this.cookies.size > 0) headers.set('cookie', this.cookieHeader());
    const res = await fetch(url, { ...init, headers, redirect: 'manual' });
    if (sameOrigin) {
      for (const setCookie of res.headers.getSetCookie()) {
        const [pair] = setCookie.split(';');
        const eq = pair!.indexOf('=');
        const name = pair!.slice(0, eq);
        const value = pair!.slice(eq + 1);
        if (value === '' || /max-age=0/i.test(setCookie)) this.cookies.delete(name);
        else this.cookies.set(name, value);
      }
    }
    const text = await res.text();
    return { status: res.status, headers: res.headers, text, json: <T>() => JSON.parse(text) as T };
  }

  /** GET /login -> dev-entra authorize page (returns its URL; nothing submitted yet). */
  async startSignIn(returnTo?: string): Promise<{ authorizeUrl: string; state: string }> {
    const login = await this.fetch(
      returnTo === undefined ? '/login' : `/login?returnTo=${encodeURIComponent(returnTo)}`,
    );
    if (login.status !== 302) throw new Error(`/login answered ${login.status}: ${login.text}`);
    const authorizeUrl = login.headers.get('location')!;
    return { authorizeUrl, state: new URL(authorizeUrl).searchParams.get('state')! };
  }

  /** Picks `user` on dev-entra's sign-in page; returns the callback URL it redirects to (not followed). */
  static async pickUser(authorizeUrl: string, user: string): Promise<string> {
    const page = await fetch(authorizeUrl, { redirect: 'manual' });
    const html = await page.text();
    const action = /<form method="post" action="([^"]+)"/.exec(html)?.[1];
    const tx = /name="tx" value="([^"]+)"/.exec(html)?.[1];
    if (!action || !tx)
      throw new Error(`no sign-in form at ${authorizeUrl}: ${page.status} ${html.slice(0, 300)}`);
    const posted = await fetch(action.replace(/&amp;/g, '&'), {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ tx, user }),
      redirect: 'manual',
    });
    const location = posted.headers.get('location');
    if (posted.status !== 302 || !location)
      throw new Error(`sign-in form answered ${posted.status}: ${await posted.text()}`);
    return location;
  }

  /** The whole sign-in: /login, dev-entra picks `user`, /callback; returns the callback answer. */
  async signIn(user: string, returnTo?: string): Promise<Answer> {
    const { authorizeUrl } = await this.startSignIn(returnTo);
    const callback = await Client.pickUser(authorizeUrl, user);
    const answer = await this.fetch(callback);
    if (answer.status !== 303) throw new Error(`callback answered ${answer.status}: ${answer.text}`);
    return answer;
  }
}

/** A free loopback port (for processes whose public URL must be known before they listen). */
export { freePort };

export const BROKER_ENTRY = join(import.meta.dirname, '..', 'dist', 'main.js');

export interface HttpsBroker {
  world: World;
  broker: LaunchedProcess;
  publicUrl: string;
}

/**
 * The built broker as its own process over HTTPS (a Secure `__Host-` cookie needs it), with a server
 * certificate from a test CA, in a fresh world: what the browser tests run against. `publicCa` also
 * hands that CA to the broker as PUBLIC_CA_FILE (the kubeconfig it writes names it).
 */
export async function startHttpsBroker(
  options: {
    bindings?: RbacBinding[];
    env?: Record<string, string>;
    publicCa?: boolean;
    startTimeoutMs?: number;
  } = {},
): Promise<HttpsBroker> {
  const port = await freePort();
  const publicUrl = `https://127.0.0.1:${port}`;
  const world = await startWorld({ bindings: options.bindings, redirectUris: [`${publicUrl}/callback`] });
  try {
    const ca = await createCertificateAuthority('aks-broker test CA');
    const cert = await createServerCertificate(ca, { dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'] });
    await writeFile(join(world.dir, 'tls.crt'), cert.certPem);
    await writeFile(join(world.dir, 'tls.key'), cert.keyPem);
    if (options.publicCa) await writeFile(join(world.dir, 'public-ca.crt'), ca.certPem);
    const broker = await launchApp(BROKER_ENTRY, {
      env: world.baseEnv({
        PORT: String(port),
        PUBLIC_URL: publicUrl,
        TLS_CERT_FILE: join(world.dir, 'tls.crt'),
        TLS_KEY_FILE: join(world.dir, 'tls.key'),
        ...(options.publicCa ? { PUBLIC_CA_FILE: join(world.dir, 'public-ca.crt') } : {}),
        COOKIE_SECURE: 'true',
        LOG_LEVEL: 'info',
        NODE_EXTRA_CA_CERTS: world.entra.caPath,
        ...options.env,
      }),
      startTimeoutMs: options.startTimeoutMs ?? 60_000,
    });
    return { world, broker, publicUrl };
  } catch (error) {
    await world.close();
    throw error;
  }
}
