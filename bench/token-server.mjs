#!/usr/bin/env node
// Benchmark: cached token requests against the token-server as its image runs it (the bundle and
// the image's node flags, bench/lib/deployed.mjs; dev-entra as the IdP, one warm scope), through
// the seed's /token and the App Service managed-identity endpoint, next to a bare node:http server
// answering the same JSON (the ceiling on this machine). Prints throughput, p50/p99 latency, the
// server's CPU time per request (from /proc; 1e6 / it = what one dedicated core would serve), RSS,
// and issue 16's goals (memory idle and at the peak of the load, private and file-backed apart;
// start to ready; the first request's TTFB); never asserts. Target (issue 5): >= 15k/s for cached /token.
// All servers run at once and the targets take turns for several rounds: this machine's speed
// drifts by up to 2x within a minute, and interleaving exposes every target to the same drift.
// Each figure is the median over the rounds, with the range of req/s beside it.
//   npm run bench -w apps/token-server     (builds first)   or   node bench/token-server.mjs
// Env: BENCH_DURATION (s per run, default 4), BENCH_ROUNDS (default 4), BENCH_CONNECTIONS (default 50).
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import autocannon from 'autocannon';
import { DevEntra } from '@auth-sidecars/dev-entra';
import { deployedApp } from './lib/deployed.mjs';
import {
  fmt,
  rssGoalRow,
  goalRow,
  loadAverage,
  medianTtfb,
  memoryMb,
  printGoals,
  sampleRss,
  startApp,
} from './lib/harness.mjs';
import { GOALS } from './lib/proxy-bench.mjs';

const duration = Number(process.env.BENCH_DURATION ?? 4);
const rounds = Number(process.env.BENCH_ROUNDS ?? 4);
const connections = Number(process.env.BENCH_CONNECTIONS ?? 50);
const SECRET = 'bench-secret-0123456789abcdef';
const SCOPE = 'https://vault.azure.net/.default';

/** Runs the benchmark and returns its goal rows (bench/footprint.mjs collects them). */
export async function run() {
  const deployed = await deployedApp('token-server');
  const entra = await DevEntra.start();
  const cert = await entra.createClientCertificate({ subject: 'token-server bench' });
  const app = entra.registerApp({ name: 'token-server bench', certificatePem: cert.certPem });
  const dir = mkdtempSync(join(tmpdir(), 'token-server-bench-'));
  writeFileSync(join(dir, 'client.pem'), cert.pem);

  /**
   * Starts the token-server as its image runs it (bench/lib/deployed.mjs) and waits for /readyz (the
   * warm scope holds its token); the first /token request is sent as soon as it is ready.
   */
  async function startServer(extraEnv) {
    return startApp(
      deployed.entry,
      {
        ...deployed.env,
        AZURE_TENANT_ID: entra.tenantId,
        AZURE_CLIENT_ID: app.clientId,
        AZURE_CLIENT_CERTIFICATE_PATH: join(dir, 'client.pem'),
        AZURE_AUTHORITY_HOST: entra.url,
        NODE_EXTRA_CA_CERTS: entra.caPath,
        AZD_AUTH_SECRET: SECRET,
        TOKEN_SERVER_WARM_SCOPES: SCOPE,
        ...extraEnv,
      },
      { nodeArgs: deployed.nodeArgs, firstRequest: { path: tokenPath, headers: auth } },
    );
  }

  /** The ceiling: node:http answering a token-shaped JSON body from memory, in its own process. */
  async function startBareServer(body) {
    const code = `
    const http = require('node:http');
    const body = ${JSON.stringify(body)};
    const server = http.createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      res.end(body);
    });
    server.listen(0, '127.0.0.1', () => console.log(JSON.stringify({ url: 'http://127.0.0.1:' + server.address().port })));
  `;
    const child = spawn(process.execPath, ['-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
    const url = await new Promise((resolve) =>
      createInterface({ input: child.stdout }).once('line', (l) => resolve(JSON.parse(l).url)),
    );
    return {
      url,
      pid: child.pid,
      close: () => stop(child),
    };
  }

  /** SIGTERM, wait for the exit, then stop the process's log sink (if any). */
  async function stop(child, sink) {
    child.kill('SIGTERM');
    await once(child, 'exit');
    sink?.kill();
  }

  /** CPU time (user + system, ms) a process has used so far, from /proc (Linux; undefined elsewhere). */
  function cpuMs(pid) {
    try {
      const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
      return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100; // utime, stime in USER_HZ (100)
    } catch {
      return undefined;
    }
  }

  /** One measured run (after a short JIT warm-up) of `url`: throughput, latency, server CPU per request. */
  async function load(url, headers, pid) {
    // Warm-up, not measured: a server that sat idle while the others ran is slow for its first second.
    await autocannon({ url, connections, duration: 2, headers });
    const cpuBefore = cpuMs(pid);
    const result = await autocannon({ url, connections, duration, headers });
    const cpuAfter = cpuMs(pid);
    return {
      rps: Math.round(result.requests.average),
      p50: result.latency.p50,
      p99: result.latency.p99,
      cpuUs:
        cpuBefore === undefined || cpuAfter === undefined
          ? undefined
          : ((cpuAfter - cpuBefore) * 1000) / result.requests.total,
      failed: result.non2xx + result.errors,
    };
  }

  function median(values) {
    const sorted = values.filter((v) => v !== undefined).sort((a, b) => a - b);
    return sorted.length === 0 ? undefined : sorted[Math.floor(sorted.length / 2)];
  }

  const auth = { authorization: `Bearer ${SECRET}` };
  const tokenPath = `/token?scope=${encodeURIComponent(SCOPE)}`;
  const msiPath = `/msi/token?api-version=2019-08-01&resource=${encodeURIComponent('https://vault.azure.net')}`;
  // LOG_LEVEL=info: every issuance writes its audit line, as in production (batched: the default).
  // LOG_BATCH=false writes each line as it is logged; LOG_LEVEL=warn switches the audit line of
  // each issuance off. Together they show what auditing and its batching cost.
  const configs = [
    ['audit on', { LOG_LEVEL: 'info' }],
    ['audit on, LOG_BATCH=false', { LOG_LEVEL: 'info', LOG_BATCH: 'false' }],
    ['audit off (LOG_LEVEL=warn)', { LOG_LEVEL: 'warn' }],
  ];
  const servers = [];
  const targets = [];
  const rows = [];
  let idle;
  let peak;
  let bareTtfbUs;
  let startup;
  try {
    for (const [label, env] of configs) {
      const server = await startServer(env);
      servers.push(server);
      // startServer waited for /readyz (the warm scope holds its token); check one answer, then load.
      const probe = await fetch(`${server.url}${tokenPath}`, { headers: auth });
      if (probe.status !== 200) throw new Error(`probe failed: ${probe.status}`);
      targets.push({
        title: `token-server /token, ${label}`,
        url: `${server.url}${tokenPath}`,
        headers: auth,
        server,
      });
      targets.push({
        title: `token-server /msi/token, ${label}`,
        url: `${server.url}${msiPath}`,
        headers: { 'x-identity-header': SECRET },
        server,
      });
    }
    const bare = await startBareServer(
      JSON.stringify({
        access_token: 'x'.repeat(1200),
        expires_on: 0,
        expires_in: 3599,
        token_type: 'Bearer',
      }),
    );
    servers.push(bare);
    targets.push({
      title: 'bare node:http, same-size JSON (ceiling)',
      url: bare.url,
      headers: {},
      server: bare,
      bare: true,
    });
    // Memory and start-up of the first server (audit on, as deployed); the first request's TTFB
    // against the bare server's (new connections both).
    const main = servers[0];
    await new Promise((r) => setTimeout(r, 2000));
    idle = memoryMb(main.pid);
    bareTtfbUs = await medianTtfb(bare.url, {});
    entra.resetStats();
    const runs = new Map(targets.map((t) => [t, []]));
    for (let round = 1; round <= rounds; round++) {
      process.stderr.write(`round ${round}/${rounds}\n`);
      for (const t of targets) {
        const stopRss = t.server === main ? sampleRss(main.pid) : undefined;
        runs.get(t).push(await load(t.url, t.headers, t.server.pid));
        const p = stopRss?.();
        if (p && (!peak || p.rss > peak.rss)) peak = p;
      }
    }
    const idpCalls = entra.stats().tokenRequests;
    startup = { ms: main.startupMs, firstUs: main.firstTtfbUs, status: main.firstStatus };
    for (const t of targets) {
      const r = runs.get(t);
      const rps = r.map((x) => x.rps);
      const cpuUs = median(r.map((x) => x.cpuUs));
      rows.push({
        title: t.title,
        rps: median(rps),
        range: `${Math.min(...rps)}-${Math.max(...rps)}`,
        p50: median(r.map((x) => x.p50)),
        p99: median(r.map((x) => x.p99)),
        cpuUs: cpuUs === undefined ? '?' : cpuUs.toFixed(0),
        perCore: cpuUs === undefined ? '?' : String(Math.round(1e6 / cpuUs)),
        non2xx: r.reduce((n, x) => n + x.failed, 0),
        idp: t.bare ? '-' : idpCalls,
        rss: fmt(memoryMb(t.server.pid).rss),
      });
    }
  } finally {
    for (const server of servers) await server.close();
    await entra.close();
    await deployed.close();
    rmSync(dir, { recursive: true, force: true });
  }

  console.log(
    `\ntoken-server benchmark: ${connections} connections, ${rounds} rounds of ${duration} s per target, node ${process.version}, cached token`,
  );
  console.log(
    `machine: ${cpus().length} CPUs, load average ${loadAverage()}; token-server = ${deployed.label}`,
  );
  console.log('target (issue 5): cached /token >= 15000 req/s');
  console.log(
    'medians over the rounds; req/s range = slowest and fastest round; IdP calls = all rounds together.\n',
  );
  const header = [
    'target',
    'req/s',
    'range',
    'p50 ms',
    'p99 ms',
    'CPU us/req',
    'req/s per core',
    'non-2xx+errors',
    'IdP calls',
    'RSS MB',
  ];
  const table = rows.map((r) => [
    r.title,
    String(r.rps),
    r.range,
    String(r.p50),
    String(r.p99),
    String(r.cpuUs),
    String(r.perCore),
    String(r.non2xx),
    String(r.idp),
    String(r.rss),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...table.map((row) => row[i].length)));
  const fmtRow = (row) =>
    row.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]) : cell.padStart(widths[i]))).join('  ');
  console.log(fmtRow(header));
  for (const row of table) console.log(fmtRow(row));
  const ceiling = rows.at(-1).rps;
  console.log(
    `\nratio to the bare node:http ceiling (medians):\n${rows
      .slice(0, -1)
      .map((r) => `  ${r.title.replace('token-server ', '')}: ${(r.rps / ceiling).toFixed(2)}`)
      .join('\n')}`,
  );
  const firstAddedMs = (startup.firstUs - bareTtfbUs) / 1000;
  const goals = [
    rssGoalRow('token-server: RSS idle (MB)', idle, GOALS.idleRssMb),
    rssGoalRow('token-server: RSS peak under the bench load (MB)', peak, GOALS.peakRssMb),
    goalRow(
      'token-server: start to /readyz 200 (ms)',
      fmt(startup.ms),
      `<= ${GOALS.readyMs}`,
      startup.ms <= GOALS.readyMs,
    ),
    goalRow(
      'token-server: first /token after ready, TTFB added to bare node:http (ms)',
      `${fmt(firstAddedMs, 2)} (${fmt(startup.firstUs)} - ${fmt(bareTtfbUs)} us; status ${startup.status})`,
      `<= ${GOALS.firstRequestAddedMs}`,
      firstAddedMs <= GOALS.firstRequestAddedMs,
    ),
  ];
  printGoals('token-server: goals of issue 16', goals);
  return goals;
}

if (import.meta.main) await run();
