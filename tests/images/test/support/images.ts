// The images under test: the offline base (scripts/base-image.mjs) and the repo's Dockerfiles built
// with build-images.sh exactly as committed, each once per run (IMAGE_TESTS_RUN_ID, set by run.mjs),
// shared by the test files of the run.
import { createWriteStream, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { imageRef, podmanEnv, registry, repoRoot, run, stateDir, TAG } from './podman.js';

export interface BaseImage {
  image: string;
  recipe: string;
  cached: boolean;
  seconds: number;
}

/** Makes (or finds, by its recipe hash) the node:24-bookworm-slim image the Dockerfiles start from. */
export async function ensureBase(): Promise<BaseImage> {
  const r = await run(process.execPath, [join(repoRoot, 'scripts/base-image.mjs')], {
    env: process.env,
    timeoutMs: 30 * 60_000,
  });
  const last = r.stdout.trim().split('\n').at(-1) ?? '';
  if (r.code !== 0 || !last.startsWith('{'))
    throw new Error(`scripts/base-image.mjs exited ${r.code}:\n${r.stdout}\n${r.stderr}`);
  return JSON.parse(last) as BaseImage;
}

export interface Build {
  name: string;
  ref: string;
  ok: boolean;
  seconds: number;
  log: string;
  /** The last lines of the build's output, for failure messages. */
  tail: string;
}

const runId = process.env.IMAGE_TESTS_RUN_ID ?? `single-${process.pid}`;
const stateFile = join(stateDir, `builds-${runId}.json`);

function recorded(): Record<string, Build> {
  return existsSync(stateFile) ? (JSON.parse(readFileSync(stateFile, 'utf8')) as Record<string, Build>) : {};
}

/** One image with build-images.sh (podman; apps/<name>/Dockerfile, or dev/Dockerfile for `dev`). */
async function buildImage(name: string): Promise<Build> {
  const logDir = join(stateDir, 'logs');
  mkdirSync(logDir, { recursive: true });
  const log = join(logDir, `build-${name}.log`);
  const file = createWriteStream(log);
  const started = Date.now();
  const r = await run('bash', [join(repoRoot, 'build-images.sh')], {
    env: { ...podmanEnv, BUILDER: 'podman', REGISTRY: registry, TAG, APPS: name },
    timeoutMs: 30 * 60_000,
    onLine: (line) => file.write(`${line}\n`),
  });
  file.end();
  const seconds = Math.round((Date.now() - started) / 1000);
  const tail = `${r.stdout}\n${r.stderr}`.trim().split('\n').slice(-40).join('\n');
  return { name, ref: imageRef(name), ok: r.code === 0, seconds, log, tail };
}

/**
 * Builds the named images not yet built in this run: the first alone (it makes the layers all
 * images share: prune, npm ci, turbo's cache of the common packages), then two at a time.
 */
export async function ensureBuilt(names: string[]): Promise<Map<string, Build>> {
  const done = recorded();
  const todo = names.filter((n) => !done[n]);
  const record = (build: Build) => {
    done[build.name] = build;
    writeFileSync(stateFile, JSON.stringify(done, null, 2));
  };
  const first = todo.shift();
  if (first !== undefined) record(await buildImage(first));
  const worker = async () => {
    for (let name = todo.shift(); name !== undefined; name = todo.shift()) record(await buildImage(name));
  };
  await Promise.all([worker(), worker()]);
  return new Map(names.map((n) => [n, done[n]!]));
}
