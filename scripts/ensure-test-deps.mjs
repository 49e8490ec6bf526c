#!/usr/bin/env node
// Installs what the tests run against when it is missing, so `npm test` works on a fresh machine:
// the real servers (Prometheus, nginx, Redis, Chromium) from Debian's packages (root or sudo), and
// helm for the chart checks (scripts/ensure-helm.mjs).
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { ensureHelm } from './ensure-helm.mjs';

const REQUIRED = [
  { bin: '/usr/bin/prometheus', pkg: 'prometheus' },
  { bin: '/usr/sbin/nginx', pkg: 'nginx-light' },
  { bin: '/usr/bin/redis-server', pkg: 'redis-server' },
  { bin: '/usr/bin/chromium', pkg: 'chromium' },
  { bin: '/usr/bin/unzip', pkg: 'unzip' },
  { bin: '/usr/lib/python3/dist-packages/azure/identity/__init__.py', pkg: 'python3-azure' },
];
// Debian starts packaged daemons on install; tests start their own on loopback ports.
const PACKAGED_DAEMONS = ['prometheus', 'nginx', 'redis-server'];

console.log(`auth-sidecars tests on node ${process.version}`);
const missing = REQUIRED.filter((r) => !existsSync(r.bin)).map((r) => r.pkg);
if (missing.length > 0) installDebianPackages(missing);
ensureHelm();

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
  run(['apt-get', 'update', '-qq']);
  run(['apt-get', 'install', '-y', '-qq', '--no-install-recommends', ...packages]);
  for (const daemon of PACKAGED_DAEMONS) {
    try {
      execFileSync('service', [daemon, 'stop'], { stdio: 'ignore' });
    } catch {
      // not running, or no service manager: nothing to stop
    }
  }
}
