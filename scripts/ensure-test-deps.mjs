#!/usr/bin/env node
// Installs what the tests run against when it is missing, so `npm test` works on a fresh machine:
// the real servers (Prometheus, nginx, Caddy, Redis, Chromium, python3-azure) from Debian's packages (root or sudo), and
// helm for the chart checks (scripts/ensure-helm.mjs); podman and its companions for the image
// tier (tests/images) when it can run (root or sudo).
//   node scripts/ensure-test-deps.mjs          everything `npm test` uses
//   node scripts/ensure-test-deps.mjs --demo   only what `npm run demo` runs (Prometheus, Redis)
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { ensureHelm } from './ensure-helm.mjs';

const REQUIRED = [
  { bin: '/usr/bin/prometheus', pkg: 'prometheus' },
  { bin: '/usr/sbin/nginx', pkg: 'nginx-light' },
  // carta-forwardauth's README snippets run behind real nginx and Caddy
  { bin: '/usr/bin/caddy', pkg: 'caddy' },
  { bin: '/usr/bin/redis-server', pkg: 'redis-server' },
  { bin: '/usr/bin/chromium', pkg: 'chromium' },
  { bin: '/usr/bin/unzip', pkg: 'unzip' },
  { bin: '/usr/lib/python3/dist-packages/azure/identity/__init__.py', pkg: 'python3-azure' },
];
const DEMO = ['prometheus', 'redis-server'];
// tests/images: rootful podman (runc: crun cannot run in cgroups-v1/hybrid VMs), mmdebstrap for the
// offline base image, Debian's docker-compose against podman's API socket.
const CONTAINER_TOOLS = [
  { bin: '/usr/bin/podman', pkg: 'podman' },
  { bin: '/usr/bin/buildah', pkg: 'buildah' },
  { bin: '/usr/sbin/runc', pkg: 'runc' },
  { bin: '/usr/bin/mmdebstrap', pkg: 'mmdebstrap' },
  { bin: '/usr/bin/docker-compose', pkg: 'docker-compose' },
];
// Debian starts packaged daemons on install; tests start their own on loopback ports.
const PACKAGED_DAEMONS = ['prometheus', 'nginx', 'redis-server', 'caddy'];

const demoOnly = process.argv.includes('--demo');
console.log(`auth-sidecars ${demoOnly ? 'demo' : 'tests'} on node ${process.version}`);
const missing = REQUIRED.filter((r) => !existsSync(r.bin) && (!demoOnly || DEMO.includes(r.pkg))).map(
  (r) => r.pkg,
);
const missingTools = demoOnly ? [] : CONTAINER_TOOLS.filter((r) => !existsSync(r.bin)).map((r) => r.pkg);
if (missingTools.length > 0 && !canInstall()) {
  // Not fatal here: tests/images says loudly that it skips (and fails under CI=true).
  console.warn(
    `cannot install ${missingTools.join(', ')} without root or sudo: the image tests will not run`,
  );
  missingTools.length = 0;
}
if (missing.length + missingTools.length > 0) installDebianPackages([...missing, ...missingTools]);
if (!demoOnly) ensureHelm();

function canInstall() {
  if (process.platform !== 'linux' || !existsSync('/usr/bin/apt-get')) return false;
  return process.getuid?.() === 0 || spawnSync('sudo', ['-n', 'true'], { stdio: 'ignore' }).status === 0;
}

function installDebianPackages(packages) {
  if (process.platform !== 'linux' || !existsSync('/usr/bin/apt-get')) {
    console.error(
      `missing test dependencies: ${packages.join(', ')}; install them with your package manager`,
    );
    process.exit(1);
  }
  const sudo = process.getuid?.() === 0 ? [] : ['sudo', '-n'];
  const run = (args) => {
    const [cmd, ...rest] = [...sudo, ...args];
    const r = spawnSync(cmd, rest, {
      stdio: 'inherit',
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    });
    if (r.status !== 0) throw new Error(`${[cmd, ...rest].join(' ')} failed with exit code ${r.status}`);
  };
  console.log(`installing test dependencies: ${packages.join(', ')}`);
  // Another process may hold the dpkg lock (a parallel install): wait for it rather than fail.
  const lock = ['-o', 'DPkg::Lock::Timeout=600'];
  run(['apt-get', ...lock, 'update', '-qq']);
  run(['apt-get', ...lock, 'install', '-y', '-qq', '--no-install-recommends', ...packages]);
  for (const daemon of PACKAGED_DAEMONS) {
    try {
      execFileSync('service', [daemon, 'stop'], { stdio: 'ignore' });
    } catch {
      // not running, or no service manager: nothing to stop
    }
  }
}
