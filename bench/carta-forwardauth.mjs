// carta-forwardauth benchmark: warm ForwardAuth decisions per second and latency with N sessions in
// the informer cache, and the number of Kubernetes API calls made during the load (target: 0).
// Prints a table; never asserts (targets from issue 6: >= 20k decisions/s, 0 API calls).
//
//   npx turbo run build --filter=@auth-sidecars/carta-forwardauth   # once: builds dist/ of app + deps
//   node bench/carta-forwardauth.mjs
//
// Knobs: BENCH_SESSIONS (10000), BENCH_DURATION seconds per scenario (10), BENCH_CONNECTIONS (64),
// BENCH_PIPELINING (1; Traefik and nginx do not pipeline, a higher value measures server capacity).
import { readFileSync, existsSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { startKubeApi } from '@auth-sidecars/testkit/kube-api';
import { launchApp } from '@auth-sidecars/testkit/process';

const SESSIONS = Number(process.env.BENCH_SESSIONS ?? 10_000);
const DURATION = Number(process.env.BENCH_DURATION ?? 10);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 64);
const PIPELINING = Number(process.env.BENCH_PIPELINING ?? 1);
const NS = 'skaha-workload';
const SA = 'system:serviceaccount:skaha-workload:carta-forwardauth';
const entry = join(import.meta.dirname, '..', 'apps', 'carta-forwardauth', 'dist', 'main.js');
if (!existsSync(entry)) {
  console.error(
    `${entry} missing: run \`npx turbo run build --filter=@auth-sidecars/carta-forwardauth\` first`,
  );
  process.exit(1);
}

const sessionId = (i) => `s${i.toString(36).padStart(6, '0')}`;

function rssMb(pid) {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? (Number(m[1]) / 1024).toFixed(0) : '?';
  } catch {
    return '?';
  }
}

async function load(url, requests) {
  const result = await autocannon({
    url,
    connections: CONNECTIONS,
    duration: DURATION,
    pipelining: PIPELINING,
    requests,
  });
  return result;
}

/** CPU seconds (user + system) a process has used so far: robust against a noisy machine. */
function cpuSeconds(pid) {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (USER_HZ 100)
  } catch {
    return NaN;
  }
}

// A bare node:http server in its own process answering 200 + header: this machine's ceiling.
async function startBaseline() {
  const code = `const s = require('node:http').createServer((q, r) => { r.writeHead(200, { 'carta-auth-token': 'alice', 'content-length': '0' }); r.end(); });
    s.listen(0, '127.0.0.1', () => console.log(s.address().port));`;
  const child = spawn(process.execPath, ['-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise((resolve) => child.stdout.once('data', (d) => resolve(String(d).trim())));
  return { url: `http://127.0.0.1:${port}`, pid: child.pid, close: () => child.kill() };
}

const api = await startKubeApi({ defaultNamespace: NS });
const t0 = performance.now();
for (let i = 0; i < SESSIONS; i++) {
  api.addPod({
    name: `carta-${sessionId(i)}`,
    labels: {
      'canfar.net/id': sessionId(i),
      'canfar.net/username': `user${i % 997}`,
      'canfar-net-sessionType': 'carta',
    },
  });
}
const seeded = performance.now() - t0;

const app = await launchApp(entry, {
  env: {
    KUBECONFIG: api.writeKubeconfig(SA, NS),
    PORT: '0',
    PROBE_PORT: '0',
    HOST: '127.0.0.1',
    LOG_LEVEL: 'info',
  },
  startTimeoutMs: 60_000,
});
// Probes listen on their own port; its `listening` line comes after the decision port's.
const probes = await app.waitForLog((l) => l.message === 'listening' && l.component === 'probes', 30_000);
const readyStart = performance.now();
while ((await fetch(`${probes.url}/readyz`)).status !== 200) await new Promise((r) => setTimeout(r, 50));
const readyMs = performance.now() - readyStart;
const rssAfterSync = rssMb(app.child.pid);

// Many distinct sessions per connection, Traefik-style requests.
const hits = Array.from({ length: 2000 }, (_, k) => ({
  method: 'GET',
  path: '/',
  headers: {
    'x-forwarded-uri': `/session/carta/${sessionId((k * 7919) % SESSIONS)}/static/main.js`,
    'x-forwarded-method': 'GET',
    'x-forwarded-host': 'carta.example.org',
  },
}));
const misses = Array.from({ length: 2000 }, (_, k) => ({
  method: 'GET',
  path: '/',
  headers: { 'x-forwarded-uri': `/session/carta/missing${k}/`, 'x-forwarded-method': 'GET' },
}));

const baseline = await startBaseline();
const rows = [];
try {
  // warm-up: JIT and connection setup
  await autocannon({ url: app.url, connections: CONNECTIONS, duration: 2, requests: hits });
  for (const [name, url, requests, expected, pid] of [
    ['baseline node:http (ceiling)', baseline.url, hits, 200, baseline.pid],
    ['carta allow (warm, cached)', app.url, hits, 200, app.child.pid],
    ['carta deny (unknown session)', app.url, misses, 403, app.child.pid],
  ]) {
    const before = api.requestLog.length;
    const cpuBefore = cpuSeconds(pid);
    const r = await load(url, requests);
    const cpuUsPerReq = ((cpuSeconds(pid) - cpuBefore) * 1e6) / r.requests.total;
    const during = api.requestLog.slice(before);
    // Decisions must never call the API; quiet watches are re-opened by client-node every 30 s
    // (its inactivity timeout), which is background traffic independent of the load.
    const apiCalls = during.filter((e) => !e.watch).length;
    const watchReopens = during.filter((e) => e.watch).length;
    const matched = expected === 200 ? r['2xx'] : r['4xx'];
    rows.push({
      scenario: name,
      'req/s': Math.round(r.requests.average),
      'p50 ms': r.latency.p50,
      'p99 ms': r.latency.p99,
      requests: r.requests.total,
      'expected status': `${matched} x ${expected}`,
      'other/errors': r.requests.total - matched + r.errors + r.timeouts,
      'server CPU us/req': cpuUsPerReq.toFixed(1),
      'API calls': url === baseline.url ? '-' : apiCalls,
      'watch reopens': url === baseline.url ? '-' : watchReopens,
      'RSS MB': url === baseline.url ? '-' : rssMb(app.child.pid),
    });
  }
} finally {
  baseline.close();
  await app.close();
  await api.close();
}

console.log(
  `\ncarta-forwardauth: ${SESSIONS} sessions seeded in ${seeded.toFixed(0)} ms, informers ready in ${readyMs.toFixed(0)} ms (RSS ${rssAfterSync} MB); ` +
    `${CONNECTIONS} connections, pipelining ${PIPELINING}, ${DURATION} s per scenario, Node ${process.version}`,
);
console.table(rows);
console.log('targets (issue 6): >= 20000 warm decisions/s, 0 API calls during the run');
console.log(
  'server CPU us/req: CPU time of the serving process per request; 1e6 / it = decisions/s one core could serve.',
);
