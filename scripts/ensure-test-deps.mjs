#!/usr/bin/env node
// Installs the real servers the tests run against (Prometheus, nginx, Redis, Chromium) when they
// are missing, so `npm test` works on a fresh machine. Debian packages; needs root or sudo.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

const REQUIRED = [
  { bin: '/usr/bin/prometheus', pkg: 'prometheus' },
  { bin: '/usr/sbin/nginx', pkg: 'nginx-light' },
  { bin: '/usr/bin/redis-server', pkg: 'redis-server' },
  { bin: '/usr/bin/chromium', pkg: 'chromium' },
];

console.log(`auth-sidecars tests on node ${process.version}`);
const missing = REQUIRED.filter((r) => !existsSync(r.bin)).map((r) => r.pkg);
if (missing.length === 0) process.exit(0);

if (process.platform !== 'linux' || !existsSync('/usr/bin/apt-get')) {
  console.error(`missing test servers: ${missing.join(', ')}; install them with your package manager`);
  process.exit(1);
}
const asRoot = process.getuid?.() === 0;
const sudo = asRoot ? [] : ['sudo', '-n'];
const run = (args) => {
  const [cmd, ...rest] = [...sudo, ...args];
  const r = spawnSync(cmd, rest, { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  if (r.status !== 0) throw new Error(`${[cmd, ...rest].join(' ')} failed with ${r.status}`);
};
console.log(`installing test servers: ${missing.join(', ')}`);
run(['apt-get', 'update', '-qq']);
run(['apt-get', 'install', '-y', '-qq', '--no-install-recommends', ...missing]);
// Debian starts the packaged daemons on install; the tests start their own on loopback ports.
for (const svc of ['prometheus', 'nginx', 'redis-server']) {
  try {
    execFileSync('service', [svc, 'stop'], { stdio: 'ignore' });
  } catch {
    /* not running or no service manager: nothing to stop */
  }
}
