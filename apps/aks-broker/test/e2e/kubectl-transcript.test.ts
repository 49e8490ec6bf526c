// Bob's kubectl session from start to end, with the real kubectl against the broker (HTTPS) and the
// Kubernetes API stand-in: the kubeconfig the page hands out, get, a refusal by RBAC, a watch, logs,
// exec, then the credential revoked on the page and a second one ended by sign-out. Each step is
// asserted, and the whole session is written as a terminal transcript to
// test-results/kubectl-transcript.txt (the README's docs/kubectl-transcript.txt is a copy of it).
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureKubectl, runKubectl, type KubectlResult } from '@auth-sidecars/testkit/kubectl';
import type { RbacBinding } from '@auth-sidecars/testkit/kube-rbac';
import {
  BOB,
  Client,
  freePort,
  startBroker,
  startWorld,
  type InProcessBroker,
  type World,
} from '../helpers.js';

const RESULTS = join(import.meta.dirname, '..', '..', 'test-results');
const BINDINGS: RbacBinding[] = [
  {
    users: [BOB],
    namespace: 'team-a',
    rules: [
      { verbs: ['get', 'list', 'watch'], resources: ['pods'] },
      { verbs: ['get'], resources: ['pods/log'] },
      { verbs: ['create', 'get'], resources: ['pods/exec'] },
    ],
  },
];
/** Where the page's download lands (the transcript shows this path; the file is in a temp dir). */
const SHOWN_PATH = '~/Downloads/kubeconfig-aks-broker';

let world: World;
let broker: InProcessBroker;
let kubectlBin: string;
let home: string;
const transcript: string[] = [];
const secrets: string[] = [];

beforeAll(async () => {
  kubectlBin = ensureKubectl();
  const port = await freePort();
  world = await startWorld({ bindings: BINDINGS, redirectUris: [`https://127.0.0.1:${port}/callback`] });
  broker = await startBroker(world, { KUBE_ALLOW_SUBRESOURCES: 'exec' }, { tls: true, port });
  home = await mkdtemp(join(tmpdir(), 'aks-broker-transcript-'));
  await mkdir(join(home, 'Downloads'));
}, 60_000);

afterAll(async () => {
  await broker?.close();
  await world?.close();
  if (home) await rm(home, { recursive: true, force: true });
});

const note = (text: string) => transcript.push(`# ${text}`);

/** What the page's "Create credential" does; writes the kubeconfig where the browser would. */
async function createOnPage(client: Client, name: string): Promise<{ id: string; file: string }> {
  const res = await client.fetch('/api/credentials', {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-aks-broker': '1' },
    body: JSON.stringify({ name, namespace: 'team-a' }),
  });
  expect(res.status).toBe(201);
  const answer = res.json<{
    credential: { id: string; expiresAt: string };
    token: string;
    kubeconfig: string;
  }>();
  secrets.push(answer.token);
  const file = join(home, 'Downloads', 'kubeconfig-aks-broker');
  await writeFile(file, answer.kubeconfig, { mode: 0o600 });
  note(
    `credential "${name}" created on the page, valid until ${answer.credential.expiresAt}; kubeconfig downloaded`,
  );
  return { id: answer.credential.id, file };
}

/** Runs kubectl as the user would type it (KUBECONFIG exported) and records prompt and output. */
async function kubectl(file: string, ...args: string[]): Promise<KubectlResult> {
  const result = await runKubectl(kubectlBin, args, { env: { HOME: home, KUBECONFIG: file } });
  record(args, result.stdout + result.stderr, result.code);
  return result;
}

function record(args: string[], output: string, code: number | null): void {
  transcript.push(`$ kubectl ${args.join(' ')}`);
  if (output.trim() !== '') transcript.push(output.trimEnd());
  if (code !== 0) transcript.push(`[exit ${code}]`);
}

it("bob's kubectl session: kubeconfig from the page, get, RBAC refusal, watch, logs, exec, revoke, sign-out", async () => {
  const bob = new Client(broker.url);
  await bob.signIn(BOB);
  note(`bob signs in at ${broker.url}/ and opens "Use kubectl"`);
  const laptop = await createOnPage(bob, 'laptop');
  transcript.push(`$ export KUBECONFIG=${SHOWN_PATH}`);

  const view = await kubectl(laptop.file, 'config', 'view', '--minify');
  expect(view.stdout).toContain(`server: ${broker.url}/k8s`);
  expect(view.stdout).toContain('token: REDACTED');

  const pods = await kubectl(laptop.file, 'get', 'pods');
  expect(pods.code).toBe(0);
  expect(pods.stdout).toMatch(/^api-0\s+1\/1\s+Running/m);

  const forbidden = await kubectl(laptop.file, 'get', 'pods', '-n', 'team-b');
  expect(forbidden.code).toBe(1);
  expect(forbidden.stderr).toContain('Error from server (Forbidden)');

  // A watch: bob's kubectl keeps streaming; a pod created in the cluster meanwhile shows up.
  await streamed(laptop.file, ['get', 'pods', '-w'], async (output) => {
    await until(() => output().includes('worker-0'), 'the watch listed the pods');
    await until(() => world.kube.watchCount() > 0, 'the watch reached the API server');
    world.kube.addPod({ name: 'web-1', namespace: 'team-a', phase: 'Running' });
    await until(() => /web-1\s+1\/1\s+Running/.test(output()), 'the new pod streamed');
  });
  note('(web-1 was created in the cluster while the watch ran)');

  // Followed logs: lines the pod writes while kubectl follows arrive as they are written.
  world.kube.appendLog({ name: 'api-0', namespace: 'team-a' }, 'listening on :8080');
  await streamed(laptop.file, ['logs', '-f', 'api-0'], async (output) => {
    await until(() => output().includes('listening on :8080'), 'the log so far');
    world.kube.appendLog({ name: 'api-0', namespace: 'team-a' }, 'GET /healthz 200');
    await until(() => output().includes('GET /healthz 200'), 'the new line streamed');
  });
  note('(the second line was written by the pod while kubectl followed)');

  const exec = await kubectl(laptop.file, 'exec', 'api-0', '--', 'whoami');
  expect(exec).toMatchObject({ code: 0, stdout: `${BOB}\n` });

  const revoked = await bob.fetch(`/api/credentials/${laptop.id}`, {
    method: 'DELETE',
    headers: { 'x-aks-broker': '1' },
  });
  expect(revoked.status).toBe(204);
  note('bob clicks "Revoke laptop" on the page');
  const afterRevoke = await kubectl(laptop.file, 'get', 'pods');
  expect(afterRevoke.code).toBe(1);
  expect(afterRevoke.stderr).toContain('You must be logged in to the server');

  const second = await createOnPage(bob, 'laptop-2');
  expect((await kubectl(second.file, 'get', 'pods')).code).toBe(0);
  const out = await bob.fetch('/logout', { method: 'POST', headers: { 'x-aks-broker': '1' } });
  expect(out.status).toBe(303);
  note('bob signs out on the page');
  const afterLogout = await kubectl(second.file, 'get', 'pods');
  expect(afterLogout.code).toBe(1);
  expect(afterLogout.stderr).toContain('You must be logged in to the server');

  const text = `${transcript.join('\n')}\n`;
  for (const secret of secrets) expect(text).not.toContain(secret);
  await mkdir(RESULTS, { recursive: true });
  await writeFile(join(RESULTS, 'kubectl-transcript.txt'), text);
}, 180_000);

/** A long-running kubectl (get -w, logs -f): `during` acts while it streams, then ^C. */
async function streamed(
  file: string,
  args: string[],
  during: (output: () => string) => Promise<void>,
): Promise<void> {
  const child = spawn(kubectlBin, args, {
    env: { HOME: home, KUBECONFIG: file },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (c: Buffer) => (output += c.toString('utf8')));
  child.stderr.on('data', (c: Buffer) => (output += c.toString('utf8')));
  const exited = new Promise<number | null>((resolve) => child.once('close', resolve));
  try {
    await during(() => output);
  } finally {
    child.kill('SIGINT');
    await exited;
  }
  record(args, `${output.trimEnd()}\n^C`, 0);
}

async function until(check: () => boolean, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`not within ${timeoutMs} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
