// testkit-standin (the built dist/cli.js) as a process: argument errors, the kube-api stand-in with
// the demo cluster and RBAC for dev-entra's users, the token-checking stand-ins and the forwarder.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
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

function getWithCa(url: string, caPem: string, token: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(url, { ca: caPem, headers: { authorization: `Bearer ${token}` } }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString('utf8')));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
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
