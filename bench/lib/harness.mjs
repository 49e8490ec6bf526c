// Shared benchmark harness: child processes for every server (so the load generator does not share
// an event loop with them), autocannon runs at fixed concurrency, microsecond latency percentiles
// from autocannon's per-response timings, memory from /proc (private and file-backed apart), time
// to ready and the first request's TTFB, and printed tables. Never asserts.
import { spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
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

/**
 * Resident memory of a process in MB: `rss`, and its parts `anon` (private: heap, stacks, what
 * malloc holds; what the pod's memory limit is really about), `file` (file-backed: mostly the
 * node binary's pages, shared with every process that maps the same file) and `shmem`.
 */
export function memoryMb(pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field) => Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)?.[1] ?? NaN);
  return {
    rss: kb('VmRSS') / 1024,
    anon: kb('RssAnon') / 1024,
    file: kb('RssFile') / 1024,
    shmem: kb('RssShmem') / 1024,
  };
}

/** Resident set size of a process in MB. */
export function rssMb(pid) {
  return memoryMb(pid).rss;
}

/** `12.3 (anon 4.5 + file 7.8)`: a memoryMb figure with its split. */
export function fmtMemory(m) {
  if (m === undefined) return '-';
  return `${fmt(m.rss, 1)} (anon ${fmt(m.anon, 1)} + file ${fmt(m.file, 1)})`;
}

/** Samples memory every `intervalMs`; `stop()` returns the sample with the highest RSS. */
export function sampleRss(pid, intervalMs = 100) {
  let peak = memoryMb(pid);
  const timer = setInterval(() => {
    try {
      const m = memoryMb(pid);
      if (m.rss > peak.rss) peak = m;
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

export function median(values) {
  const sorted = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  if (sorted.length === 0) return NaN;
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
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
export async function warm(url, request, durationS = 2) {
  await load(url, { ...request, connections: 8, durationS });
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
 * per request and, for `sampleRss` targets, peak memory) and latency at c=1. Targets: `{ name,
 * url, pid? }`, the first being `direct` (the upstream itself). The machine is shared, so the
 * targets take turns for `rounds` rounds (BENCH_ROUNDS, default 3), each warmed up again before
 * its turn (a server idle while the others ran is slow for its first second), and each figure is
 * the median of its rounds: a burst of someone else's load then hits every target alike.
 */
export async function measureAll(
  targets,
  request,
  {
    durationS = Number(process.env.BENCH_DURATION_S ?? 4),
    rounds = Number(process.env.BENCH_ROUNDS ?? 3),
  } = {},
) {
  const runs = Object.fromEntries(targets.map((t) => [t.name, []]));
  for (let round = 0; round < rounds; round += 1) {
    for (const t of targets) {
      await warm(t.url, request, 1);
      const stopRss = t.pid && t.sampleRss ? sampleRss(t.pid) : undefined;
      const cpu0 = t.pid ? cpuMicros(t.pid) : 0;
      const tput = await load(t.url, { ...request, connections: 32, durationS });
      const cpuPerReq = t.pid ? (cpuMicros(t.pid) - cpu0) / Math.max(1, tput.total) : NaN;
      const lat = await load(t.url, { ...request, connections: 1, durationS });
      const peak = stopRss?.();
      const bad = tput.errors + tput.non2xx + lat.errors + lat.non2xx;
      if (bad > 0)
        console.log(
          `warning: ${t.name}: ${tput.errors + lat.errors} errors, ${tput.non2xx + lat.non2xx} non-2xx responses`,
        );
      runs[t.name].push({ tput, lat, cpuPerReq, peak });
    }
  }
  const byName = {};
  for (const t of targets) {
    const r = runs[t.name];
    const rps = r.map((x) => x.tput.rps);
    const peaks = r.map((x) => x.peak).filter(Boolean);
    byName[t.name] = {
      tput: { rps: median(rps), min: Math.min(...rps), max: Math.max(...rps) },
      lat: { p50us: median(r.map((x) => x.lat.p50us)), p99us: median(r.map((x) => x.lat.p99us)) },
      cpuPerReq: median(r.map((x) => x.cpuPerReq)),
      peak: peaks.length === 0 ? undefined : peaks.reduce((a, b) => (b.rss > a.rss ? b : a)),
    };
  }
  return byName;
}

export function printMeasurements(title, targets, byName) {
  const direct = byName[targets[0].name];
  printTable(
    title,
    [
      'target',
      'req/s c=32',
      'range',
      'CPU us/req',
      'p50 us c=1',
      'p99 us c=1',
      'added p50 us',
      'added p99 us',
    ],
    targets.map((t) => {
      const m = byName[t.name];
      const first = t === targets[0];
      return [
        t.label ?? t.name,
        fmt(m.tput.rps),
        `${fmt(m.tput.min)}-${fmt(m.tput.max)}`,
        fmt(m.cpuPerReq),
        fmt(m.lat.p50us),
        fmt(m.lat.p99us),
        first ? '-' : fmt(m.lat.p50us - direct.lat.p50us),
        first ? '-' : fmt(m.lat.p99us - direct.lat.p99us),
      ];
    }),
  );
}

/** A row of a goals table: [figure, value, goal, met]. */
export function goalRow(figure, value, goal, met) {
  return [figure, value, goal, met === undefined ? '-' : met ? 'met' : 'MISSED'];
}

/** A memory row: a memoryMb figure (RSS with its split) against an RSS goal in MB, if there is one. */
export function rssGoalRow(figure, memory, goalMb) {
  if (goalMb === undefined) return goalRow(figure, fmtMemory(memory), '-', undefined);
  return goalRow(figure, fmtMemory(memory), `<= ${goalMb}`, memory !== undefined && memory.rss <= goalMb);
}

export function printGoals(title, rows) {
  printTable(title, ['figure', 'value', 'goal', 'verdict'], rows);
}

/**
 * Spawns `node [...nodeArgs] entry` on a free loopback port with stdout and stderr going to a file
 * (as a container runtime's log driver takes them: the app pays for every log line, the load
 * generator does not read them), and measures how long it takes from the spawn until /readyz
 * answers 200 (polled every 5 ms; `startupMs`). Then sends `firstRequest` (if given) at once and
 * records its time to first byte (`firstTtfbUs`, a new connection, as the first client would).
 */
export async function startApp(
  entry,
  env,
  {
    nodeArgs = [],
    logFile = join(os.tmpdir(), `bench-app-${process.pid}-${Date.now()}.log`),
    firstRequest,
    readyPath = '/readyz',
    probePortEnv,
  } = {},
) {
  const port = await freePort();
  // An app whose probes listen on a port of their own: that port is named by `probePortEnv`.
  const probePort = probePortEnv ? await freePort() : port;
  const fd = openSync(logFile, 'w');
  const started = performance.now();
  const child = spawn(process.execPath, [...nodeArgs, entry], {
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      ...env,
      HOST: '127.0.0.1',
      PORT: String(port),
      ...(probePortEnv ? { [probePortEnv]: String(probePort) } : {}),
    },
    stdio: ['ignore', fd, fd],
  });
  closeSync(fd);
  let exited = false;
  child.once('exit', () => (exited = true));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  let startupMs;
  for (;;) {
    const status = await ttfb(`http://127.0.0.1:${probePort}`, { path: readyPath }).then(
      (r) => r.status,
      () => 0,
    );
    if (status === 200) {
      startupMs = performance.now() - started;
      break;
    }
    if (exited || Date.now() > deadline)
      throw new Error(`${entry} did not get ready:\n${readFileSync(logFile, 'utf8')}`);
    await new Promise((r) => setTimeout(r, 5));
  }
  const first = firstRequest ? await ttfb(url, firstRequest) : undefined;
  return {
    url,
    pid: child.pid,
    logFile,
    startupMs,
    firstTtfbUs: first?.us,
    firstStatus: first?.status,
    close: async () => {
      await stop(child);
      rmSync(logFile, { force: true });
    },
  };
}

/**
 * One request on a new connection: microseconds from sending it to the response's status line and
 * headers (the body is read and dropped).
 */
export function ttfb(url, { path = '/', method = 'GET', headers = {}, body } = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request(`${url}${path}`, {
      method,
      headers: body === undefined ? headers : { ...headers, 'content-length': Buffer.byteLength(body) },
      agent: false,
    });
    let sent;
    req.once('response', (res) => {
      const us = Number(process.hrtime.bigint() - sent) / 1000;
      res.resume();
      res.once('end', () => resolve({ us, status: res.statusCode }));
    });
    req.once('error', reject);
    req.setTimeout(10_000, () => req.destroy(new Error('timeout')));
    sent = process.hrtime.bigint();
    req.end(body);
  });
}

/** Median TTFB of `n` requests, each on a new connection (a reference for `firstTtfbUs`). */
export async function medianTtfb(url, request, n = 5) {
  const us = [];
  for (let i = 0; i < n; i += 1) us.push((await ttfb(url, request)).us);
  return median(us);
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

export function loadAverage() {
  return readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
}

export function machineNote() {
  return `node ${process.version}, ${os.cpus().length} CPUs (${os.cpus()[0]?.model ?? '?'}), load average ${loadAverage()}`;
}
