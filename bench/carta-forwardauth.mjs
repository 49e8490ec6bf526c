// carta-forwardauth benchmark: warm ForwardAuth decisions per second and latency with N sessions in
// the informer cache, and the number of Kubernetes API calls made during the load (target: 0), the
// app run as its image runs it (bench/lib/deployed.mjs). Prints a table and issue 16's goals (RSS
// with 10,000 sessions, private and file-backed apart; start to ready); never asserts (targets from
// issue 6: >= 20k decisions/s, 0 API calls).
//
//   npx turbo run build --filter=@auth-sidecars/carta-forwardauth   # once: builds dist/ of app + deps
//   node bench/carta-forwardauth.mjs
//
// Knobs: BENCH_SESSIONS (10000), BENCH_DURATION seconds per scenario (10), BENCH_CONNECTIONS (64),
// BENCH_PIPELINING (1; Traefik and nginx do not pipeline, a higher value measures server capacity).
import { readFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import autocannon from 'autocannon';
import { startKubeApi } from '@auth-sidecars/testkit/kube-api';
import { deployedApp } from './lib/deployed.mjs';
import {
  fmt,
  rssGoalRow,
  goalRow,
  loadAverage,
  memoryMb,
  printGoals,
  sampleRss,
  startApp,
} from './lib/harness.mjs';

/** Issue 16's goal: RSS with 10,000 sessions. */
export const RSS_GOAL_MB = 120;

const SESSIONS = Number(process.env.BENCH_SESSIONS ?? 10_000);
const DURATION = Number(process.env.BENCH_DURATION ?? 10);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 64);
const PIPELINING = Number(process.env.BENCH_PIPELINING ?? 1);
const NS = 'skaha-workload';
const SA = 'system:serviceaccount:skaha-workload:carta-forwardauth';
const sessionId = (i) => `s${i.toString(36).padStart(6, '0')}`;

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

/** Runs the benchmark and returns its goal rows (bench/footprint.mjs collects them). */
export async function run() {
  const deployed = await deployedApp('carta-forwardauth');
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

  const app = await startApp(
    deployed.entry,
    { ...deployed.env, KUBECONFIG: api.writeKubeconfig(SA, NS), LOG_LEVEL: 'info' },
    // Probes on a port of their own (on PORT every path is a decision).
    { nodeArgs: deployed.nodeArgs, probePortEnv: 'PROBE_PORT' },
  );
  const readyMs = app.startupMs;
  await new Promise((r) => setTimeout(r, 2000));
  const afterSync = memoryMb(app.pid);
  let peak = afterSync;

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
      ['carta allow (warm, cached)', app.url, hits, 200, app.pid],
      ['carta deny (unknown session)', app.url, misses, 403, app.pid],
    ]) {
      const before = api.requestLog.length;
      const cpuBefore = cpuSeconds(pid);
      const stopRss = url === baseline.url ? undefined : sampleRss(app.pid);
      const r = await load(url, requests);
      const p = stopRss?.();
      if (p && p.rss > peak.rss) peak = p;
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
        'RSS MB': url === baseline.url ? '-' : fmt(memoryMb(app.pid).rss),
      });
    }
  } finally {
    baseline.close();
    await app.close();
    await api.close();
    await deployed.close();
  }

  console.log(
    `\ncarta-forwardauth (${deployed.label}): ${SESSIONS} sessions seeded in ${seeded.toFixed(0)} ms, start to ready ${readyMs.toFixed(0)} ms; ` +
      `${CONNECTIONS} connections, pipelining ${PIPELINING}, ${DURATION} s per scenario, Node ${process.version}, load average ${loadAverage()}`,
  );
  console.table(rows);
  console.log('targets (issue 6): >= 20000 warm decisions/s, 0 API calls during the run');
  console.log(
    'server CPU us/req: CPU time of the serving process per request; 1e6 / it = decisions/s one core could serve.',
  );
  const goals = [
    rssGoalRow(`carta-forwardauth: RSS with ${SESSIONS} sessions, after sync (MB)`, afterSync, RSS_GOAL_MB),
    rssGoalRow(
      `carta-forwardauth: RSS with ${SESSIONS} sessions, peak under the decision load (MB)`,
      peak,
      RSS_GOAL_MB,
    ),
    goalRow(
      `carta-forwardauth: start to /readyz 200, ${SESSIONS} pods listed (ms)`,
      fmt(readyMs),
      '- (no IdP)',
      undefined,
    ),
  ];
  printGoals('carta-forwardauth: goals of issue 16', goals);
  return goals;
}

if (import.meta.main) await run();
