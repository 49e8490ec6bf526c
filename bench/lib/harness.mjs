// Shared benchmark harness: child processes for every server (so the load generator does not share
// an event loop with them), autocannon runs at fixed concurrency, microsecond latency percentiles
// from autocannon's per-response timings, RSS from /proc, and a printed table. Never asserts.
import { spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import net from 'node:net';
import os from 'node:os';
import { createInterface } from 'node:readline';
import autocannon from 'autocannon';

/** Runs `node script` and resolves with the first JSON line it prints that has a `url`. */
export async function startChild(script, { env = {}, args = [] } = {}) {
  const child = spawn(process.execPath, [script, ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const url = await new Promise((resolve, reject) => {
    createInterface({ input: child.stdout }).on('line', (line) => {
      try {
        const parsed = JSON.parse(line);
        if (typeof parsed.url === 'string') resolve(parsed.url);
      } catch {
        /* not a JSON line */
      }
    });
    child.once('exit', (code) => reject(new Error(`${script} exited with ${code}`)));
  });
  return { url, pid: child.pid, close: () => stop(child) };
}

export async function stop(child) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(timer);
}

/** Resident set size of a process in MB. */
export function rssMb(pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
  return kb / 1024;
}

/** Samples RSS every `intervalMs`; `stop()` returns the peak in MB. */
export function sampleRss(pid, intervalMs = 100) {
  let peak = rssMb(pid);
  const timer = setInterval(() => {
    try {
      peak = Math.max(peak, rssMb(pid));
    } catch {
      /* process gone */
    }
  }, intervalMs);
  return () => {
    clearInterval(timer);
    return peak;
  };
}

function percentile(sorted, p) {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

/**
 * One autocannon run. Returns requests/s, latency p50/p99 in microseconds (from every response's
 * hrtime duration, not autocannon's millisecond histogram) and error counts.
 */
export async function load(
  url,
  { connections, durationS, method = 'GET', path = '/', headers = {}, body } = {},
) {
  const latencies = [];
  const instance = autocannon({
    url: url + path,
    connections,
    duration: durationS,
    method,
    headers,
    body,
    pipelining: 1,
  });
  instance.on('response', (_client, _status, _bytes, responseTimeMs) =>
    latencies.push(responseTimeMs * 1000),
  );
  const result = await instance;
  latencies.sort((a, b) => a - b);
  return {
    rps: result.requests.average,
    total: result.requests.total,
    p50us: percentile(latencies, 50),
    p99us: percentile(latencies, 99),
    errors: result.errors + result.timeouts,
    non2xx: result.non2xx,
  };
}

/** Short warm-up so JIT and keep-alive pools are in steady state before measuring. */
export async function warm(url, request) {
  await load(url, { ...request, connections: 8, durationS: 2 });
}

export function fmt(n, digits = 0) {
  return Number.isFinite(n) ? n.toFixed(digits) : '-';
}

export function printTable(title, header, rows) {
  const all = [header, ...rows].map((r) => r.map(String));
  const widths = header.map((_, i) => Math.max(...all.map((r) => r[i].length)));
  const line = (r) => `| ${r.map((c, i) => c.padEnd(widths[i])).join(' | ')} |`;
  console.log(`\n${title}\n`);
  console.log(line(all[0]));
  console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
  for (const r of all.slice(1)) console.log(line(r));
}

/** CPU time (user + system) of a process in microseconds, from /proc/<pid>/stat. */
export function cpuMicros(pid) {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) * (1e6 / 100); // USER_HZ is 100 on Linux
}

/**
 * Measures each target with the same request: throughput at c=32 (with the target process's CPU
 * per request and, for `sampleRss` targets, peak RSS) and latency at c=1. Targets: `{ name, url,
 * pid? }`, the first being `direct` (the upstream itself). The machine is shared, so the targets
 * are measured round-robin `rounds` times (BENCH_ROUNDS, default 3) and each figure is the best of
 * its rounds: a burst of someone else's load then hits every target alike, not one of them.
 */
export async function measureAll(
  targets,
  request,
  {
    durationS = Number(process.env.BENCH_DURATION_S ?? 4),
    rounds = Number(process.env.BENCH_ROUNDS ?? 3),
  } = {},
) {
  const byName = {};
  for (const t of targets) await warm(t.url, request);
  for (let round = 0; round < rounds; round += 1) {
    for (const t of targets) {
      const stopRss = t.pid && t.sampleRss ? sampleRss(t.pid) : undefined;
      const cpu0 = t.pid ? cpuMicros(t.pid) : 0;
      const tput = await load(t.url, { ...request, connections: 32, durationS });
      const cpuPerReq = t.pid ? (cpuMicros(t.pid) - cpu0) / Math.max(1, tput.total) : NaN;
      const peakRss = stopRss?.();
      const lat = await load(t.url, { ...request, connections: 1, durationS });
      const bad = tput.errors + tput.non2xx + lat.errors + lat.non2xx;
      if (bad > 0)
        console.log(
          `warning: ${t.name}: ${tput.errors + lat.errors} errors, ${tput.non2xx + lat.non2xx} non-2xx responses`,
        );
      const prev = byName[t.name];
      byName[t.name] =
        prev === undefined
          ? { tput, lat, cpuPerReq, peakRss }
          : {
              tput: tput.rps > prev.tput.rps ? tput : prev.tput,
              lat: { p50us: Math.min(lat.p50us, prev.lat.p50us), p99us: Math.min(lat.p99us, prev.lat.p99us) },
              cpuPerReq: Math.min(cpuPerReq, prev.cpuPerReq),
              peakRss: peakRss === undefined ? prev.peakRss : Math.max(peakRss, prev.peakRss ?? 0),
            };
    }
  }
  return byName;
}

export function printMeasurements(title, targets, byName) {
  const direct = byName[targets[0].name];
  printTable(
    title,
    ['target', 'req/s c=32', 'CPU us/req', 'p50 us c=1', 'p99 us c=1', 'added p50 us', 'added p99 us'],
    targets.map((t) => {
      const m = byName[t.name];
      const first = t === targets[0];
      return [
        t.label ?? t.name,
        fmt(m.tput.rps),
        fmt(m.cpuPerReq),
        fmt(m.lat.p50us),
        fmt(m.lat.p99us),
        first ? '-' : fmt(m.lat.p50us - direct.lat.p50us),
        first ? '-' : fmt(m.lat.p99us - direct.lat.p99us),
      ];
    }),
  );
}

/** The targets for one scenario: app vs nginx throughput, added p50, RSS. */
export function targetRows(scenario, byName, rss, appName = 'app', label = appName) {
  const { direct, nginx } = byName;
  const app = byName[appName];
  const ratio = app.tput.rps / nginx.tput.rps;
  const added = app.lat.p50us - direct.lat.p50us;
  return [
    ...(appName === 'app'
      ? [
          [
            scenario,
            'nginx: added p50 at c=1 (us), for reference',
            fmt(nginx.lat.p50us - direct.lat.p50us),
            '-',
            '-',
          ],
        ]
      : []),
    [
      scenario,
      `${label}: throughput / nginx throughput, c=32`,
      fmt(ratio, 2),
      '>= 0.50',
      ratio >= 0.5 ? 'met' : 'NOT met',
    ],
    [scenario, `${label}: added p50 at c=1 (us)`, fmt(added), '<= 60', added <= 60 ? 'met' : 'NOT met'],
    ...(rss === undefined
      ? []
      : [
          [
            scenario,
            `${label}: RSS idle / peak under load (MB)`,
            `${fmt(rss.idle, 1)} / ${fmt(app.peakRss ?? NaN, 1)}`,
            '<= 80',
            Math.max(rss.idle, app.peakRss ?? 0) <= 80 ? 'met' : 'NOT met',
          ],
        ]),
  ];
}

/**
 * Starts an app's dist/main.js on a free loopback port with stdout and stderr going to a file (as a
 * container runtime's log driver takes them: the app pays for every log line, the load generator
 * does not read them) and waits until its /livez answers (so any LOG_LEVEL works).
 */
export async function startApp(
  entry,
  env,
  { logFile = join(os.tmpdir(), `bench-app-${process.pid}-${Date.now()}.log`) } = {},
) {
  const port = await freePort();
  const fd = openSync(logFile, 'w');
  const child = spawn(process.execPath, [entry], {
    env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env, HOST: '127.0.0.1', PORT: String(port) },
    stdio: ['ignore', fd, fd],
  });
  closeSync(fd);
  let exited = false;
  child.once('exit', () => (exited = true));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      if ((await fetch(`${url}/livez`)).ok) break;
    } catch {
      /* not listening yet */
    }
    if (exited || Date.now() > deadline)
      throw new Error(`${entry} did not start:\n${readFileSync(logFile, 'utf8')}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url,
    pid: child.pid,
    logFile,
    close: async () => {
      await stop(child);
      rmSync(logFile, { force: true });
    },
  };
}

async function freePort() {
  const server = net.createServer().listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** The worker process of a single-worker nginx started by testkit's startNginx. */
export function nginxWorkerPid(masterPid) {
  const children = readFileSync(`/proc/${masterPid}/task/${masterPid}/children`, 'utf8').trim().split(/\s+/);
  return Number(children[0]);
}

export function machineNote() {
  const load = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  return `node ${process.version}, ${os.cpus().length} CPUs (${os.cpus()[0]?.model ?? '?'}), load average ${load}`;
}
