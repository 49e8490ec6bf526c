// Soak benchmark of the two token-injecting proxies: a long run of mixed load per proxy (openai-proxy:
// JSON chat, streamed SSE chat, GETs, some 4xx; prom-sidecar: query, query_range, labels, label
// values, form POSTs, some 4xx) at a fixed rate, with the app's RSS, heap and event-loop delay read
// from its own /metrics every interval, and the memory slope (least squares, MB/min) at the end.
// Tokens live 5 minutes by default, so a 10-minute soak also runs through refreshes. Prints, never
// asserts.
//
//   npm run soak                                     build, then 10 minutes per proxy, one after the other
//   npm run soak -- --duration 90s --interval 5s --apps openai-proxy
//   node bench/soak.mjs ...                          the same without the build (Node 24)
// Options: --duration (default 10m; 90s, 10m, 1h or seconds), --interval (default 10s), --rate
// (requests/s per proxy, default 100), --connections (default 16), --apps (default
// openai-proxy,prom-sidecar), --prometheus real|canned (prom-sidecar's upstream: a real Prometheus
// behind the token gate when /usr/bin/prometheus exists, else the canned bench upstream),
// --token-lifetime (seconds, default 300).
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { startDevEntra } from '@auth-sidecars/dev-entra';
import { startPrometheus, PROMETHEUS_BINARY } from '@auth-sidecars/testkit/prometheus';
import { fmt, machineNote, printTable, rssMb, startApp, startChild } from './lib/harness.mjs';

const root = join(import.meta.dirname, '..');
const { values: flags } = parseArgs({
  options: {
    duration: { type: 'string', default: '10m' },
    interval: { type: 'string', default: '10s' },
    rate: { type: 'string', default: '100' },
    connections: { type: 'string', default: '16' },
    apps: { type: 'string', default: 'openai-proxy,prom-sidecar' },
    prometheus: { type: 'string', default: existsSync(PROMETHEUS_BINARY) ? 'real' : 'canned' },
    'token-lifetime': { type: 'string', default: '300' },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (flags.help) {
  process.stdout.write(
    `${readFileSync(new URL(import.meta.url), 'utf8')
      .split('\n')
      .filter((l, i, all) => all.slice(0, i + 1).every((x) => x.startsWith('//')))
      .map((l) => l.replace(/^\/\/ ?/, ''))
      .join('\n')}\n`,
  );
  process.exit(0);
}

/** `90s`, `10m`, `1h`, `600` (seconds) -> milliseconds. */
function duration(text, name) {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text.trim());
  if (!m)
    throw new Error(`--${name}: expected a duration such as 90s, 10m or 1h, got ${JSON.stringify(text)}`);
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] ?? 's'];
  return Number(m[1]) * unit;
}

function positive(text, name) {
  const n = Number(text);
  if (!Number.isFinite(n) || n <= 0)
    throw new Error(`--${name}: expected a positive number, got ${JSON.stringify(text)}`);
  return n;
}

const durationMs = duration(flags.duration, 'duration');
const intervalMs = duration(flags.interval, 'interval');
const rate = positive(flags.rate, 'rate');
const connections = Math.round(positive(flags.connections, 'connections'));
const tokenLifetime = Math.round(positive(flags['token-lifetime'], 'token-lifetime'));
const apps = flags.apps.split(',').map((a) => a.trim());
for (const app of apps)
  if (!['openai-proxy', 'prom-sidecar'].includes(app)) throw new Error(`--apps: unknown proxy ${app}`);
if (!['real', 'canned'].includes(flags.prometheus)) throw new Error('--prometheus: real or canned');

const CHAT = '/openai/deployments/gpt-4o-mini/chat/completions?api-version=2024-10-21';
const chat = (stream) =>
  JSON.stringify({ model: 'gpt-4o-mini', stream, messages: [{ role: 'user', content: 'Say hello.' }] });
const json = { 'content-type': 'application/json', 'api-key': 'client-key' };
const form = { 'content-type': 'application/x-www-form-urlencoded' };

/** One cycle of each connection: mostly successes, one in six or seven a client error. */
function mix(app, now) {
  if (app === 'openai-proxy')
    return [
      { method: 'POST', path: CHAT, headers: json, body: chat(false) },
      { method: 'POST', path: CHAT, headers: json, body: chat(true) },
      { method: 'GET', path: '/v1/models', headers: { 'api-key': 'client-key' } },
      { method: 'POST', path: '/v1/chat/completions', headers: json, body: chat(false) },
      { method: 'GET', path: '/v1/no-such-route', headers: { 'api-key': 'client-key' } },
      { method: 'POST', path: CHAT, headers: json, body: '{"messages": [' },
    ];
  const start = now - 600;
  return [
    { method: 'GET', path: '/api/v1/query?query=up' },
    {
      method: 'GET',
      path: `/api/v1/query_range?query=${encodeURIComponent('rate(prometheus_http_requests_total[1m])')}&start=${start}&end=${now}&step=15`,
    },
    { method: 'GET', path: '/api/v1/labels' },
    { method: 'POST', path: '/api/v1/query', headers: form, body: `query=${encodeURIComponent('sum(up)')}` },
    { method: 'GET', path: '/api/v1/label/job/values' },
    { method: 'GET', path: '/api/v1/admin/tsdb/snapshot' },
    { method: 'POST', path: '/api/v1/query', headers: form, body: 'query=sum(' },
  ];
}

/** The samples worth watching from prom-client's default metrics. */
async function scrape(url) {
  const text = await (await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(10_000) })).text();
  const value = (name) => {
    const m = new RegExp(`^${name}(?:\\{[^}]*\\})? ([0-9.eE+-]+)$`, 'm').exec(text);
    return m ? Number(m[1]) : NaN;
  };
  return {
    rssMb: value('process_resident_memory_bytes') / 2 ** 20,
    heapMb: value('nodejs_heap_size_used_bytes') / 2 ** 20,
    lagMs: value('nodejs_eventloop_lag_seconds') * 1000,
    lagP99Ms: value('nodejs_eventloop_lag_p99_seconds') * 1000,
    lagMaxMs: value('nodejs_eventloop_lag_max_seconds') * 1000,
  };
}

/** Least-squares slope of y over x. */
function slope(points) {
  const n = points.length;
  if (n < 2) return NaN;
  const mx = points.reduce((s, [x]) => s + x, 0) / n;
  const my = points.reduce((s, [, y]) => s + y, 0) / n;
  const sxy = points.reduce((s, [x, y]) => s + (x - mx) * (y - my), 0);
  const sxx = points.reduce((s, [x]) => s + (x - mx) ** 2, 0);
  return sxx === 0 ? NaN : sxy / sxx;
}

async function upstreamFor(app, entra, stops) {
  const standin = join(root, 'packages', 'testkit', 'dist', 'cli.js');
  const entraArgs = [
    '--dev-entra-url',
    entra.url,
    '--tenant',
    entra.tenantId,
    '--dev-entra-ca',
    entra.caPath,
  ];
  if (app === 'openai-proxy') {
    const upstream = await startChild(standin, {
      args: ['openai-upstream', '--chunk-interval-ms', '20', ...entraArgs],
    });
    stops.push(upstream.close);
    return { url: upstream.url, label: 'OpenAI stand-in (bearer checked, SSE chunks every 20 ms)' };
  }
  if (flags.prometheus === 'canned') {
    const upstream = await startChild(join(import.meta.dirname, 'lib', 'upstream-server.mjs'), {
      args: ['prometheus'],
      env: { JWKS_URL: entra.jwksUri, AUDIENCE: 'https://prometheus.monitor.azure.com', CA_PEM: entra.caPem },
    });
    stops.push(upstream.close);
    return { url: upstream.url, label: 'canned Prometheus answer (bearer checked)' };
  }
  const prometheus = await startPrometheus({ scrapeIntervalSeconds: 5 });
  stops.push(prometheus.close);
  const gate = await startChild(standin, {
    args: ['prometheus-gate', '--upstream', prometheus.url, ...entraArgs],
  });
  stops.push(gate.close);
  return { url: gate.url, label: 'real Prometheus behind the token gate' };
}

async function soak(app, entra, dir) {
  const stops = [];
  try {
    const cert = await entra.createClientCertificate();
    const clientId = entra.registerApp({ certificatePem: cert.certPem, name: `${app}-soak` }).clientId;
    const certPath = join(dir, `${app}.pem`);
    await writeFile(certPath, cert.pem);
    const upstream = await upstreamFor(app, entra, stops);
    const env = {
      AZURE_AUTHORITY_HOST: entra.url,
      NODE_EXTRA_CA_CERTS: entra.caPath,
      AZURE_CLIENT_ID: clientId,
      AZURE_TENANT_ID: entra.tenantId,
      LOG_LEVEL: 'info',
      ...(app === 'openai-proxy'
        ? { API_BASE_URL: upstream.url, AZURE_CERTIFICATE_PATH: certPath }
        : { PROMETHEUS_QUERY_ENDPOINT: upstream.url, AZURE_CLIENT_CERTIFICATE_PATH: certPath }),
    };
    const proc = await startApp(join(root, 'apps', app, 'dist', 'main.js'), env);
    stops.push(proc.close);
    console.log(
      `\n${app}: ${upstream.label}; ${rate} req/s over ${connections} connections for ${fmt(durationMs / 60_000, 1)} min`,
    );

    const counts = { total: 0, byClass: {} };
    let sinceLast = 0;
    const instance = autocannon({
      url: proc.url,
      connections,
      overallRate: rate,
      duration: durationMs / 1000,
      requests: mix(app, Math.floor(Date.now() / 1000)),
      timeout: 30,
    });
    instance.on('response', (_client, status) => {
      counts.total += 1;
      sinceLast += 1;
      const cls = `${String(status)[0]}xx`;
      counts.byClass[cls] = (counts.byClass[cls] ?? 0) + 1;
    });
    const started = Date.now();
    const samples = [];
    const sample = async () => {
      const metrics = await scrape(proc.url).catch(() => undefined);
      const elapsed = (Date.now() - started) / 60_000;
      const row = {
        min: elapsed,
        rps: sinceLast / (intervalMs / 1000),
        procRssMb: rssMb(proc.pid),
        ...metrics,
      };
      sinceLast = 0;
      samples.push(row);
      console.log(
        `  ${fmt(elapsed, 2).padStart(6)} min  ${fmt(row.rps).padStart(5)} req/s  RSS ${fmt(row.rssMb, 1)} MB (/proc ${fmt(row.procRssMb, 1)})  heap ${fmt(row.heapMb, 1)} MB  loop delay ${fmt(row.lagMs, 1)} ms, p99 ${fmt(row.lagP99Ms, 1)} ms, max ${fmt(row.lagMaxMs, 1)} ms`,
      );
    };
    await sample();
    const timer = setInterval(() => void sample(), intervalMs);
    const result = await instance;
    clearInterval(timer);
    await sample();

    const rss = samples.filter((s) => Number.isFinite(s.rssMb)).map((s) => [s.min, s.rssMb]);
    const heap = samples.filter((s) => Number.isFinite(s.heapMb)).map((s) => [s.min, s.heapMb]);
    // The first minute (or fifth of a short run) is warm-up: JIT, pools, caches filling.
    const warm = Math.min(1, (durationMs / 60_000) * 0.2);
    const settled = rss.filter(([m]) => m >= warm);
    const p99s = samples.map((s) => s.lagP99Ms).filter(Number.isFinite);
    const maxes = samples.map((s) => s.lagMaxMs).filter(Number.isFinite);
    return {
      app,
      requests: counts.total,
      rps: result.requests.average,
      classes: counts.byClass,
      errors: result.errors + result.timeouts,
      rssStart: rss[0]?.[1],
      rssEnd: rss.at(-1)?.[1],
      rssMax: Math.max(...rss.map(([, y]) => y)),
      slopeAll: slope(rss),
      slopeSettled: slope(settled),
      heapSlope: slope(heap),
      lagP99Median: p99s.sort((a, b) => a - b)[Math.floor(p99s.length / 2)],
      lagP99Max: Math.max(...p99s),
      lagMax: Math.max(...maxes),
      samples: samples.length,
    };
  } finally {
    for (const stop of stops.reverse()) await stop().catch(() => undefined);
  }
}

console.log(`soak - ${machineNote()}`);
console.log(
  `every ${fmt(intervalMs / 1000)} s: the app's /metrics (process_resident_memory_bytes, nodejs_heap_size_used_bytes, nodejs_eventloop_lag_seconds, _p99, _max) and /proc RSS; access tokens live ${tokenLifetime} s`,
);
const entra = await startDevEntra({ tokenLifetimeSeconds: tokenLifetime });
const dir = await mkdtemp(join(tmpdir(), 'soak-'));
const results = [];
try {
  for (const app of apps) results.push(await soak(app, entra, dir));
} finally {
  await entra.close();
  await rm(dir, { recursive: true, force: true });
}
printTable(
  'soak summary (printed, not asserted)',
  [
    'proxy',
    'requests',
    'req/s',
    'status classes',
    'errors',
    'RSS start / end / max MB',
    'RSS slope MB/min (all / after warm-up)',
    'heap slope MB/min',
    'loop delay p99 median / max ms',
    'loop delay max ms',
  ],
  results.map((r) => [
    r.app,
    r.requests,
    fmt(r.rps),
    Object.entries(r.classes)
      .sort()
      .map(([k, n]) => `${k} ${n}`)
      .join(', '),
    r.errors,
    `${fmt(r.rssStart, 1)} / ${fmt(r.rssEnd, 1)} / ${fmt(r.rssMax, 1)}`,
    `${fmt(r.slopeAll, 3)} / ${fmt(r.slopeSettled, 3)}`,
    fmt(r.heapSlope, 3),
    `${fmt(r.lagP99Median, 1)} / ${fmt(r.lagP99Max, 1)}`,
    fmt(r.lagMax, 1),
  ]),
);
