// testkit-standin (the built dist/cli.js) as a process: argument errors, the kube-api stand-in with
// the demo cluster and RBAC for dev-entra's users, the token-checking stand-ins and the forwarder.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CoreV1Api,
  KubeConfig,
  PatchStrategy,
  setHeaderOptions,
  Watch,
  type V1Pod,
} from '@kubernetes/client-node';
import { startDevEntra, type DevEntra } from '@auth-sidecars/dev-entra';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { CARTA_SERVICE_ACCOUNT, DEMO_NAMESPACE, DEMO_SESSIONS } from '../src/demo-data.js';
import { AKS_AUDIENCE } from '../src/kube-rbac.js';

const CLI = join(import.meta.dirname, '..', 'dist', 'cli.js');

interface Standin {
  url: string;
  logs(): Array<Record<string, unknown>>;
  exited: Promise<number | null>;
  close(): Promise<number | null>;
}

/** Runs `node dist/cli.js ...args`; waits for its `listening` line unless `wait` is false. */
async function run(args: string[], cwd: string, wait: boolean): Promise<Standin> {
  const child = spawn(process.execPath, [CLI, ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: string[] = [];
  const exited = once(child, 'close').then(([code]) => code as number | null);
  let seen!: (url: string) => void;
  const listening = new Promise<string>((resolve) => (seen = resolve));
  for (const s of [child.stdout, child.stderr]) {
    createInterface({ input: s }).on('line', (line) => {
      lines.push(line);
      if (line.includes('"message":"listening"')) seen((JSON.parse(line) as { url: string }).url);
    });
  }
  const logs = () =>
    lines.filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
  const close = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    return exited;
  };
  if (!wait) return { url: '', logs, exited, close };
  const url = await Promise.race([
    listening,
    exited.then((code) => {
      throw new Error(`testkit-standin ${args.join(' ')} exited ${code}:\n${lines.join('\n')}`);
    }),
  ]);
  return { url, logs, exited, close };
}

function getWithCa(
  url: string,
  caPem: string,
  token?: string,
  init: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<{ status: number; body: string; headers: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const headers = { ...(token ? { authorization: `Bearer ${token}` } : {}), ...init.headers };
    const req = httpsRequest(url, { ca: caPem, method: init.method ?? 'GET', headers }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString('utf8')));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
    });
    req.on('error', reject);
    req.end(init.body);
  });
}

async function until(cond: () => boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('testkit-standin', () => {
  let entra: DevEntra;
  let dir: string;
  let caFile: string;
  const running: Standin[] = [];
  beforeAll(async () => {
    entra = await startDevEntra();
    dir = mkdtempSync(join(tmpdir(), 'standin-cli-'));
    caFile = join(dir, 'dev-entra-ca.pem');
    writeFileSync(caFile, entra.caPem);
  });
  afterEach(async () => {
    for (const p of running.splice(0)) await p.close();
  });
  afterAll(async () => {
    await entra.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const entraArgs = () => [
    '--dev-entra-url',
    entra.url,
    '--tenant',
    entra.tenantId,
    '--dev-entra-ca',
    caFile,
  ];

  it('refuses an unknown stand-in or a missing --dev-entra-url with exit code 64', async () => {
    for (const args of [
      ['nope'],
      ['kube-api'],
      ['prometheus-gate', '--dev-entra-url', 'https://127.0.0.1:1'],
      ['tcp-forward', '--to', 'x'],
    ]) {
      const p = await launchCli(args, false);
      expect({ args, code: await p.exited }).toEqual({ args, code: 64 });
    }
  });

  it('kube-api: demo cluster, kubeconfig for carta-forwardauth, RBAC for dev-entra users; stops on SIGTERM', async () => {
    const kubeconfig = join(dir, 'carta.kubeconfig');
    const caOut = join(dir, 'kube-ca.pem');
    const api = await launchCli([
      'kube-api',
      ...entraArgs(),
      '--kubeconfig-out',
      kubeconfig,
      '--ca-out',
      caOut,
    ]);
    const listening = api.logs().find((l) => l.message === 'listening')!;
    expect(listening).toMatchObject({
      standin: 'kube-api',
      kubeconfig,
      kubeconfigUser: CARTA_SERVICE_ACCOUNT,
      caFile: caOut,
    });

    // carta-forwardauth's identity lists the session pods of its namespace, and nothing else.
    const kc = new KubeConfig();
    kc.loadFromFile(kubeconfig);
    const core = kc.makeApiClient(CoreV1Api);
    const pods = await core.listNamespacedPod({ namespace: DEMO_NAMESPACE, labelSelector: 'canfar.net/id' });
    const owners = Object.fromEntries(
      pods.items.map((p) => [
        p.metadata!.labels!['canfar.net/id'],
        p.metadata!.labels!['canfar.net/username'],
      ]),
    );
    for (const s of DEMO_SESSIONS) expect(owners[s.id]).toBe(s.user);
    await expect(core.listNamespacedPod({ namespace: 'team-a' })).rejects.toMatchObject({ code: 403 });

    // dev-entra user tokens for the AKS audience: bob reads team-a pods but not team-b; carol nothing.
    const ca = readFileSync(caOut, 'utf8');
    const token = (user: string) => entra.issueAccessToken({ scope: `${AKS_AUDIENCE}/.default`, user });
    expect(
      (await getWithCa(`${api.url}/api/v1/namespaces/team-a/pods`, ca, token('bob@contoso.test'))).status,
    ).toBe(200);
    expect(
      (await getWithCa(`${api.url}/api/v1/namespaces/team-b/pods`, ca, token('bob@contoso.test'))).status,
    ).toBe(403);
    expect(
      (await getWithCa(`${api.url}/api/v1/namespaces/team-b/pods`, ca, token('alice@contoso.test'))).status,
    ).toBe(200);
    expect(
      (await getWithCa(`${api.url}/api/v1/namespaces/team-a/pods`, ca, token('carol@contoso.test'))).status,
    ).toBe(403);
    // A token for another audience is not a Kubernetes credential.
    const wrong = entra.issueAccessToken({
      scope: 'https://management.azure.com/.default',
      user: 'alice@contoso.test',
    });
    expect((await getWithCa(`${api.url}/api/v1/namespaces/team-a/pods`, ca, wrong)).status).toBe(401);

    expect(await api.close()).toBe(0);
  });

  it('kube-api: pods change while it runs, through the --admin-kubeconfig-out credential (as the README scripts it)', async () => {
    const carta = join(dir, 'carta-watch.kubeconfig');
    const adminFile = join(dir, 'admin.kubeconfig');
    const caOut = join(dir, 'kube-ca-admin.pem');
    const api = await launchCli([
      'kube-api',
      ...entraArgs(),
      '--kubeconfig-out',
      carta,
      '--admin-kubeconfig-out',
      adminFile,
      '--ca-out',
      caOut,
    ]);
    expect(api.logs().find((l) => l.message === 'listening')).toMatchObject({ adminKubeconfig: adminFile });

    // carta-forwardauth's identity watches the session pods, as the app does.
    const watcherKc = new KubeConfig();
    watcherKc.loadFromFile(carta);
    const events: Array<{ type: string; name?: string; user?: string }> = [];
    const watch = await new Watch(watcherKc).watch(
      `/api/v1/namespaces/${DEMO_NAMESPACE}/pods`,
      {},
      (type, pod: V1Pod) =>
        events.push({ type, name: pod.metadata?.name, user: pod.metadata?.labels?.['canfar.net/username'] }),
      () => undefined,
    );
    try {
      await until(() => events.length >= DEMO_SESSIONS.length); // the initial ADDED events
      const seen = events.length;
      const session = DEMO_SESSIONS[0]!;
      const adminKc = new KubeConfig();
      adminKc.loadFromFile(adminFile);
      const admin = adminKc.makeApiClient(CoreV1Api);

      // kubectl --kubeconfig admin.kubeconfig label pod <pod> canfar.net/username=mallory --overwrite
      await admin.patchNamespacedPod(
        {
          name: session.pod,
          namespace: DEMO_NAMESPACE,
          body: { metadata: { labels: { 'canfar.net/username': 'mallory' } } },
        },
        setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
      );
      // The README's curl line: token from the admin kubeconfig, a merge patch removing the label.
      const token = /^\s*token: "(.*)"$/m.exec(readFileSync(adminFile, 'utf8'))![1]!;
      const curl = await getWithCa(
        `${api.url}/api/v1/namespaces/${DEMO_NAMESPACE}/pods/${session.pod}`,
        readFileSync(caOut, 'utf8'),
        token,
        {
          method: 'PATCH',
          headers: { 'content-type': 'application/merge-patch+json' },
          body: '{"metadata":{"labels":{"canfar.net/username":null}}}',
        },
      );
      expect(curl.status).toBe(200);
      // kubectl delete pod / kubectl run
      await admin.deleteNamespacedPod({ name: DEMO_SESSIONS[1]!.pod, namespace: DEMO_NAMESPACE });
      await admin.createNamespacedPod({
        namespace: DEMO_NAMESPACE,
        body: {
          metadata: { name: 'carta-new', labels: { 'canfar.net/id': 'new1', 'canfar.net/username': 'dave' } },
          spec: { containers: [{ name: 'carta', image: 'carta' }] },
        },
      });
      await until(() => events.length >= seen + 4);
      expect(events.slice(seen)).toEqual([
        { type: 'MODIFIED', name: session.pod, user: 'mallory' },
        { type: 'MODIFIED', name: session.pod, user: undefined },
        { type: 'DELETED', name: DEMO_SESSIONS[1]!.pod, user: DEMO_SESSIONS[1]!.user },
        { type: 'ADDED', name: 'carta-new', user: 'dave' },
      ]);
      // carta-forwardauth's own identity still may not write.
      await expect(
        watcherKc
          .makeApiClient(CoreV1Api)
          .deleteNamespacedPod({ name: 'carta-new', namespace: DEMO_NAMESPACE }),
      ).rejects.toMatchObject({ code: 403 });
    } finally {
      watch.abort();
    }
  });

  it('key-vault: challenge without a token, secrets for a dev-entra Key Vault token', async () => {
    const caOut = join(dir, 'vault-ca.pem');
    const vault = await launchCli([
      'key-vault',
      ...entraArgs(),
      '--secret',
      'db-password=hunter2',
      '--secret',
      'api-key=k=v',
      '--ca-out',
      caOut,
    ]);
    expect(vault.logs().find((l) => l.message === 'listening')).toMatchObject({
      standin: 'key-vault',
      secrets: ['db-password', 'api-key'],
    });
    const ca = readFileSync(caOut, 'utf8');
    const challenge = await getWithCa(`${vault.url}/secrets/db-password?api-version=7.6`, ca);
    expect(challenge.status).toBe(401);
    expect(challenge.headers['www-authenticate']).toContain(
      `/${entra.tenantId}", resource="https://vault.azure.net"`,
    );
    const token = entra.issueAccessToken({ scope: 'https://vault.azure.net/.default' });
    const got = await getWithCa(`${vault.url}/secrets/api-key?api-version=7.6`, ca, token);
    expect(JSON.parse(got.body)).toMatchObject({ value: 'k=v' });
    const wrong = entra.issueAccessToken({ scope: 'https://storage.azure.com/.default' });
    expect((await getWithCa(`${vault.url}/secrets/api-key?api-version=7.6`, ca, wrong)).status).toBe(401);
    const bad = await launchCli(['key-vault', ...entraArgs(), '--secret', 'novalue'], false);
    expect(await bad.exited).toBe(64);
  });

  it('openai-upstream and prometheus-gate accept only dev-entra tokens for their audience; tcp-forward forwards', async () => {
    const openai = await launchCli(['openai-upstream', ...entraArgs()]);
    const chat = (token?: string) =>
      fetch(`${openai.url}/openai/deployments/x/chat/completions`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          ...(token ? { authorization: `Bearer ${token}` } : {}),
        },
        body: JSON.stringify({ messages: [] }),
      });
    expect((await chat()).status).toBe(401);
    expect(
      (await chat(entra.issueAccessToken({ scope: 'https://management.azure.com/.default' }))).status,
    ).toBe(401);
    const ok = await chat(entra.issueAccessToken({ scope: 'https://cognitiveservices.azure.com/.default' }));
    expect(ok.status).toBe(200);
    expect(((await ok.json()) as { object: string }).object).toBe('chat.completion');

    // The gate in front of the OpenAI stand-in's models route (any HTTP upstream will do).
    const gate = await launchCli([
      'prometheus-gate',
      ...entraArgs(),
      '--upstream',
      openai.url,
      '--audience',
      'https://cognitiveservices.azure.com',
    ]);
    const token = entra.issueAccessToken({ scope: 'https://cognitiveservices.azure.com/.default' });
    expect((await fetch(`${gate.url}/v1/models`)).status).toBe(401);
    // The gate strips the Authorization header, so the upstream (which checks tokens too) refuses:
    // the 401 body then comes from the upstream, not the gate.
    const through = await fetch(`${gate.url}/v1/models`, { headers: { authorization: `Bearer ${token}` } });
    expect(await through.text()).toContain('no bearer token');

    const fwd = await launchCli(['tcp-forward', '--to', new URL(openai.url).host]);
    const port = new URL(fwd.url).port;
    const viaForward = await fetch(`http://127.0.0.1:${port}/openai/deployments/x/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ messages: [] }),
    });
    expect(viaForward.status).toBe(200);
  });

  async function launchCli(args: string[], wait = true): Promise<Standin> {
    const p = await run(args, dir, wait);
    running.push(p);
    return p;
  }
});
