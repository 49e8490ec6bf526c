// The project's podman calls: CONTAINERS_CONF from scripts/base-image.mjs, and asynchronous, so the
// stand-ins this test process serves keep answering the containers while podman runs.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync, writeSync } from 'node:fs';
import { join, resolve } from 'node:path';

export const repoRoot = resolve(import.meta.dirname, '../../../..');
export const stateDir = join(repoRoot, '.tmp', 'podman');
export const podmanEnv: NodeJS.ProcessEnv = {
  ...process.env,
  CONTAINERS_CONF: join(stateDir, 'containers.conf'),
};

/** Image names of this checkout: several checkouts on one machine share podman's storage. */
export const registry =
  process.env.IMAGE_TESTS_REGISTRY ??
  `localhost/auth-sidecars-test-${createHash('sha256').update(repoRoot).digest('hex').slice(0, 8)}`;
export const TAG = 'test';
export const imageRef = (name: string): string => `${registry}/${name}:${TAG}`;

/**
 * Prints to the run's output at once (synchronously): jest's forced exit at the end of the run
 * drops asynchronous writes still queued on a pipe.
 */
export function say(text: string): void {
  writeSync(1, text.endsWith('\n') ? text : `${text}\n`);
}

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  env?: NodeJS.ProcessEnv;
  timeoutMs?: number;
  cwd?: string;
  /** Called with every output line as it comes (e.g. to write a log file). */
  onLine?: (line: string) => void;
}

/** Runs a command to completion; never throws (the caller judges the exit code). */
export function run(cmd: string, args: string[], options: RunOptions = {}): Promise<RunResult> {
  const { env = podmanEnv, timeoutMs = 600_000, cwd = repoRoot, onLine } = options;
  return new Promise((done) => {
    const child = spawn(cmd, args, { env, cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    const out = { stdout: '', stderr: '' };
    for (const key of ['stdout', 'stderr'] as const) {
      let partial = '';
      child[key].on('data', (chunk: Buffer) => {
        const text = chunk.toString('utf8');
        out[key] += text;
        if (!onLine) return;
        const lines = (partial + text).split('\n');
        partial = lines.pop() ?? '';
        for (const line of lines) onLine(line);
      });
    }
    const timer = setTimeout(() => {
      out.stderr += `\n(killed after ${timeoutMs} ms)`;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      done({ code: null, stdout: out.stdout, stderr: `${out.stderr}${err.message}` });
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      done({ code, ...out });
    });
  });
}

export function podman(args: string[], options: RunOptions = {}): Promise<RunResult> {
  return run('podman', args, options);
}

/** podman that must succeed: its stdout, trimmed. */
export async function podmanOk(args: string[], options: RunOptions = {}): Promise<string> {
  const r = await podman(args, options);
  if (r.code !== 0)
    throw new Error(`podman ${args.join(' ')} exited ${r.code}: ${(r.stderr || r.stdout).trim()}`);
  return r.stdout.trim();
}

/** Polls `check` until it returns a value other than undefined/false, or throws after `timeoutMs`. */
export async function until<T>(
  what: string,
  check: () => Promise<T | undefined | false>,
  timeoutMs = 120_000,
  stepMs = 500,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined && value !== false) return value;
    } catch (err) {
      last = (err as Error).message;
    }
    if (Date.now() > deadline)
      throw new Error(`${what}: not within ${timeoutMs / 1000} s${last ? ` (${last})` : ''}`);
    await new Promise((r) => setTimeout(r, stepMs));
  }
}

export interface ImageInfo {
  id: string;
  size: number;
  user: string;
  cmd: string[];
  healthcheck: string[];
  layers: string[];
  labels: Record<string, string>;
}

export async function inspectImage(ref: string): Promise<ImageInfo> {
  const [raw] = JSON.parse(await podmanOk(['image', 'inspect', ref])) as Array<{
    Id: string;
    Size: number;
    Config: {
      User?: string;
      Cmd?: string[];
      Healthcheck?: { Test?: string[] };
      Labels?: Record<string, string>;
    };
    /** podman reports a docker-format image's HEALTHCHECK here, beside Config. */
    Healthcheck?: { Test?: string[] };
    RootFS: { Layers: string[] };
  }>;
  return {
    id: raw!.Id,
    size: raw!.Size,
    user: raw!.Config.User ?? '',
    cmd: raw!.Config.Cmd ?? [],
    healthcheck: raw!.Healthcheck?.Test ?? raw!.Config.Healthcheck?.Test ?? [],
    layers: raw!.RootFS.Layers,
    labels: raw!.Config.Labels ?? {},
  };
}

export interface ContainerSpec {
  name: string;
  image: string;
  env: Record<string, string>;
  /** host file or directory -> path in the container, mounted read-only */
  mounts?: Record<string, string>;
}

/** Starts a container on the host's network (the apps bind 127.0.0.1 via HOST). */
export async function startContainer(spec: ContainerSpec): Promise<void> {
  await podman(['rm', '-f', '-t', '0', spec.name]);
  const args = ['run', '-d', '--name', spec.name, '--network', 'host'];
  for (const [k, v] of Object.entries(spec.env)) args.push('-e', `${k}=${v}`);
  for (const [host, target] of Object.entries(spec.mounts ?? {})) args.push('-v', `${host}:${target}:ro`);
  await podmanOk([...args, spec.image]);
}

export async function containerLogs(name: string): Promise<string> {
  const r = await podman(['logs', name]);
  return `${r.stdout}${r.stderr}`.trim();
}

/** Whether the container still runs; the exit code when it has stopped. */
export async function containerState(name: string): Promise<{ running: boolean; exitCode: number }> {
  const out = await podmanOk(['inspect', '--format', '{{.State.Running}} {{.State.ExitCode}}', name]);
  const [running, code] = out.split(' ');
  return { running: running === 'true', exitCode: Number(code) };
}

/** The uids (real, effective, saved, fs) of the container's main process, read from /proc. */
export async function containerUids(name: string): Promise<number[]> {
  const pid = await podmanOk(['inspect', '--format', '{{.State.Pid}}', name]);
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return (/^Uid:\s+(.+)$/m.exec(status)?.[1] ?? '').split(/\s+/).map(Number);
}

export async function removeContainer(name: string): Promise<void> {
  await podman(['rm', '-f', '-t', '0', name]);
}
