// `npm run demo` end to end: scripts/demo.mjs starts dev-entra, Prometheus, Redis, the stand-ins and
// all five apps from their built dist/ on free loopback ports (DEMO_RANDOM_PORTS=1), `--check` runs
// the equivalent of every curl line it prints, and nothing it started outlives it.
import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from './support/repo.js';

const APPS = ['prom-sidecar', 'openai-proxy', 'token-server', 'carta-forwardauth', 'aks-broker'];

interface Run {
  output: () => string;
  exited: Promise<number | null>;
  signal(sig: NodeJS.Signals): void;
  waitFor(text: string, timeoutMs: number): Promise<void>;
}

function runDemo(args: string[], workdir: string): Run {
  const child = spawn(process.execPath, [join(repoRoot, 'scripts/demo.mjs'), ...args], {
    cwd: repoRoot,
    env: { ...process.env, DEMO_RANDOM_PORTS: '1', DEMO_WORKDIR: workdir, DEMO_VERBOSE: '0' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let text = '';
  const listeners = new Set<() => void>();
  for (const s of [child.stdout, child.stderr]) {
    s.on('data', (c: Buffer) => {
      text += c.toString('utf8');
      for (const l of listeners) l();
    });
  }
  const exited = once(child, 'close').then(([code]) => code as number | null);
  return {
    output: () => text,
    exited,
    signal: (sig) => child.kill(sig),
    waitFor: (needle, timeoutMs) =>
      new Promise<void>((resolve, reject) => {
        const check = () => {
          if (text.includes(needle)) {
            clearTimeout(timer);
            listeners.delete(check);
            resolve();
          }
        };
        const timer = setTimeout(() => {
          listeners.delete(check);
          reject(new Error(`no "${needle}" within ${timeoutMs} ms:\n${text}`));
        }, timeoutMs);
        listeners.add(check);
        void exited.then(() =>
          setTimeout(() => reject(new Error(`demo exited before "${needle}":\n${text}`)), 50),
        );
        check();
      }),
  };
}

/** name -> pid of every process the demo started, from its `pids:` line. */
function pidsOf(output: string): Map<string, number> {
  const line = output.split('\n').find((l) => l.startsWith('pids: '));
  if (!line) throw new Error(`no pids line in:\n${output}`);
  return new Map(
    line
      .slice('pids: '.length)
      .trim()
      .split(/\s+/)
      .map((kv) => {
        const [name, pid] = kv.split('=');
        return [name!, Number(pid)] as [string, number];
      }),
  );
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('npm run demo (scripts/demo.mjs)', () => {
  let workdir: string;
  beforeEach(() => {
    workdir = mkdtempSync(join(tmpdir(), 'demo-test-'));
  });
  afterEach(() => rmSync(workdir, { recursive: true, force: true }));

  it('--check: every printed curl line succeeds against the running stack, then everything stops', async () => {
    const run = runDemo(['--check'], workdir);
    const code = await run.exited;
    const out = run.output();
    expect({ code, out }).toEqual({ code: 0, out: expect.stringMatching(/all \d+ checks passed/) });
    expect(out).not.toContain('FAIL');
    for (const app of APPS) {
      expect(out).toMatch(new RegExp(`PASS  ${app}: `));
      expect(out).toMatch(new RegExp(`^# ${app}$`, 'm'));
    }
    // Each app was started from its dist/main.js, and none outlives the demo.
    const pids = pidsOf(out);
    expect([...pids.keys()]).toEqual(
      expect.arrayContaining([
        'dev-entra',
        'prometheus',
        'redis',
        'openai-upstream',
        'prometheus-gate',
        'kube-api',
        ...APPS,
      ]),
    );
    expect([...pids].filter(([, pid]) => alive(pid))).toEqual([]);
  }, 240_000);

  it('Ctrl-C (SIGINT) stops every process it started and exits 0', async () => {
    const run = runDemo([], workdir);
    await run.waitFor('Ctrl-C stops everything.', 120_000);
    const pids = pidsOf(run.output());
    expect([...pids].filter(([, pid]) => !alive(pid))).toEqual([]);
    run.signal('SIGINT');
    expect(await run.exited).toBe(0);
    expect([...pids].filter(([, pid]) => alive(pid))).toEqual([]);
  }, 240_000);

  it('run with the machine\'s older Node instead of npm run, it says "Node 24 required" and starts nothing', async () => {
    // The machine's own node (20 here and in CI) when it is older; else any Node made to report 20.
    const systemNode = ['/usr/bin/node', '/usr/local/bin/node'].find(
      (bin) =>
        existsSync(bin) &&
        Number(execFileSync(bin, ['-p', 'process.versions.node.split(".")[0]']).toString()) < 24,
    );
    const args = systemNode
      ? [join(repoRoot, 'scripts/demo.mjs')]
      : [
          '--import',
          'data:text/javascript,Object.defineProperty(process, "versions", { value: { ...process.versions, node: "20.19.0" } })',
          join(repoRoot, 'scripts/demo.mjs'),
        ];
    const child = spawn(systemNode ?? process.execPath, args, {
      cwd: repoRoot,
      env: { ...process.env, DEMO_WORKDIR: workdir },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    for (const s of [child.stdout, child.stderr]) s.on('data', (c: Buffer) => (out += c.toString('utf8')));
    const [code] = (await once(child, 'close')) as [number | null];
    expect({ code, out }).toEqual({ code: 1, out: expect.stringContaining('Node 24 required') });
    expect(out).toContain('npm run demo');
    expect(out).not.toMatch(/at .*\(|getCACertificates|starting/);
  });
});
