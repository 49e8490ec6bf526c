#!/usr/bin/env node
// Runs the image tier (`npm run test:images`; `npm test` runs it after the other suites so its
// builds do not compete with them for the CPU). It needs root: rootful podman and
// `mmdebstrap --mode=root`. Without root, or without podman, it skips with a loud line, except
// under CI=true, where it must run and such a machine fails. Extra arguments go to jest.
// Afterwards it keeps podman's storage bounded: every run adds the layers of the images that
// changed (a few hundred MB); past IMAGE_TESTS_STORAGE_LIMIT_GB (default 20) the dangling images
// (earlier runs' layers and build caches) go, and the next run rebuilds its shared layers once.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';

const here = import.meta.dirname;
const root = resolve(here, '../..');
const ci = ['true', '1'].includes(process.env.CI ?? '');
const missing = [];
if (process.getuid?.() !== 0) missing.push('root (rootful podman, mmdebstrap --mode=root)');
for (const bin of ['/usr/bin/podman', '/usr/sbin/runc', '/usr/bin/mmdebstrap', '/usr/bin/docker-compose'])
  if (!existsSync(bin)) missing.push(bin);
if (missing.length > 0) {
  const line = `IMAGE TESTS ${ci ? 'CANNOT RUN' : 'SKIPPED'}: no ${missing.join(', ')} on this machine; the images were NOT built or booted (scripts/ensure-test-deps.mjs installs the tools as root)`;
  const bar = '!'.repeat(Math.min(line.length, 100));
  // No stale report from an earlier run may count in the summary.
  rmSync(join(here, 'test-results'), { recursive: true, force: true });
  console.error(`\n${bar}\n${line}\n${bar}\n`);
  process.exit(ci ? 1 : 0);
}

rmSync(join(here, 'test-results'), { recursive: true, force: true });
mkdirSync(join(here, 'test-results'));

// Image names of this checkout (several checkouts on one machine share podman's storage); the test
// files read them from here (test/support/podman.ts), and so does the chart's kube play below.
const registry =
  process.env.IMAGE_TESTS_REGISTRY ??
  `localhost/auth-sidecars-test-${createHash('sha256').update(root).digest('hex').slice(0, 8)}`;
const tag = 'test';
const podmanConf = join(root, '.tmp/podman/containers.conf');

const r = jest(here, 'jest.json', process.argv.slice(2), {
  // The two test files share this run's image builds (test/support/images.ts).
  IMAGE_TESTS_RUN_ID: process.env.IMAGE_TESTS_RUN_ID ?? `${Date.now()}-${process.pid}`,
  IMAGE_TESTS_REGISTRY: registry,
});
const kubePlay = r.status === 0 && process.argv.length === 2 ? playChart() : 0;
pruneStorage();
process.exit(r.status === 0 ? kubePlay : (r.status ?? 1));

/**
 * The Helm chart's Deployments through `podman kube play` with the images just built
 * (tests/deploy/test/helm-kube-play.test.ts; KUBE_PLAY=required: an app it cannot play fails).
 */
function playChart() {
  return (
    jest(join(root, 'tests/deploy'), 'kube-play.json', ['test/helm-kube-play.test.ts'], {
      KUBE_PLAY: 'required',
      KUBE_PLAY_REGISTRY: registry,
      KUBE_PLAY_TAG: tag,
      CONTAINERS_CONF: podmanConf,
    }).status ?? 1
  );
}

/** Jest in band in `cwd` (ES modules on), its JSON results in this tier's test-results/. */
function jest(cwd, resultsFile, args, env) {
  return spawnSync(
    process.execPath,
    [
      join(root, 'node_modules/jest/bin/jest.js'),
      '--runInBand',
      '--forceExit',
      '--json',
      `--outputFile=${join(here, 'test-results', resultsFile)}`,
      ...args,
    ],
    {
      cwd,
      stdio: 'inherit',
      env: {
        ...process.env,
        NODE_OPTIONS: '--experimental-vm-modules --disable-warning=ExperimentalWarning',
        ...env,
      },
    },
  );
}

function pruneStorage() {
  const env = { ...process.env, CONTAINERS_CONF: podmanConf };
  const limitGb = Number(process.env.IMAGE_TESTS_STORAGE_LIMIT_GB ?? 20);
  const graphRoot = spawnSync('podman', ['info', '--format', '{{.Store.GraphRoot}}'], {
    env,
    encoding: 'utf8',
  });
  const du = spawnSync('du', ['-sk', graphRoot.stdout.trim()], { encoding: 'utf8' });
  const gb = Number(du.stdout.split('\t')[0]) / 1024 / 1024;
  if (!(gb > limitGb)) {
    console.log(`podman storage: ${gb.toFixed(1)} GB (pruned past ${limitGb} GB)`);
    return;
  }
  spawnSync('podman', ['image', 'prune', '--force'], { env, stdio: 'ignore' });
  const after = spawnSync('du', ['-sk', graphRoot.stdout.trim()], { encoding: 'utf8' });
  console.log(
    `podman storage: ${gb.toFixed(1)} GB, over ${limitGb} GB: dangling images pruned, now ${(Number(after.stdout.split('\t')[0]) / 1024 / 1024).toFixed(1)} GB`,
  );
}
