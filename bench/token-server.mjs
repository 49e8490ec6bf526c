#!/usr/bin/env node
// Benchmark: cached token requests against the built token-server (dev-entra as the IdP, one
// warm scope), through the seed's /token and the App Service managed-identity endpoint, next to a
// bare node:http server answering the same JSON (the ceiling on this machine). Prints throughput,
// p50/p99 latency and the server's RSS; never asserts. Target (issue 5): >= 15k/s for cached /token.
//   npm run bench -w apps/token-server     (builds first)   or   node bench/token-server.mjs
// Env: BENCH_DURATION (s, default 10), BENCH_CONNECTIONS (default 50).
import { spawn } from 'node:child_process';
import http from 'node:http';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import autocannon from 'autocannon';
import { DevEntra } from '@auth-sidecars/dev-entra';

const root = join(import.meta.dirname, '..');
const duration = Number(process.env.BENCH_DURATION ?? 10);
const connections = Number(process.env.BENCH_CONNECTIONS ?? 50);
const SECRET = 'bench-secret-0123456789abcdef';
const SCOPE = 'https://vault.azure.net/.default';

const entra = await DevEntra.start();
const cert = await entra.createClientCertificate({ subject: 'token-server bench' });
const app = entra.registerApp({ name: 'token-server bench', certificatePem: cert.certPem });
const dir = mkdtempSync(join(tmpdir(), 'token-server-bench-'));
writeFileSync(join(dir, 'client.pem'), cert.pem);

/** Starts dist/main.js; drains its output (counting lines) so logging cost is real but not kept. */
async function startServer(extraEnv) {
  const child = spawn(process.execPath, [join(root, 'apps/token-server/dist/main.js')], {
    env: {
      PATH: process.env.PATH,
      HOST: '127.0.0.1',
      PORT: '0',
      AZURE_TENANT_ID: entra.tenantId,
      AZURE_CLIENT_ID: app.clientId,
      AZURE_CLIENT_CERTIFICATE_PATH: join(dir, 'client.pem'),
      AZURE_AUTHORITY_HOST: entra.url,
      NODE_EXTRA_CA_CERTS: entra.caPath,
      AZD_AUTH_SECRET: SECRET,
      TOKEN_SERVER_WARM_SCOPES: SCOPE,
      ...extraEnv,
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let lines = 0;
  const url = await new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`token-server exited with ${code}`)));
    createInterface({ input: child.stdout }).on('line', (line) => {
      lines++;
      if (line.includes('"message":"listening"')) resolve(JSON.parse(line).url);
    });
  });
  return {
    url,
    pid: child.pid,
    lines: () => lines,
    close: async () => {
      child.kill('SIGTERM');
      await once(child, 'exit');
    },
  };
}

/** The ceiling: node:http answering a token-shaped JSON body from memory, nothing else. */
async function startBareServer(body) {
  const server = http.createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    pid: process.pid,
    close: () => new Promise((r) => server.close(r)),
  };
}

function rssMb(pid) {
  try {
    const kb = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]);
    return Number.isFinite(kb) ? (kb / 1024).toFixed(0) : '?';
  } catch {
    return '?';
  }
}

async function load(title, url, headers) {
  process.stderr.write(`running: ${title}\n`);
  const result = await autocannon({ url, connections, duration, headers });
  return {
    title,
    rps: Math.round(result.requests.average),
    p50: result.latency.p50,
    p99: result.latency.p99,
    non2xx: result.non2xx + result.errors,
    total: result.requests.total,
  };
}

const rows = [];
const auth = { authorization: `Bearer ${SECRET}` };
const tokenPath = `/token?scope=${encodeURIComponent(SCOPE)}`;
const msiPath = `/msi/token?api-version=2019-08-01&resource=${encodeURIComponent('https://vault.azure.net')}`;
try {
  // LOG_LEVEL=info: every issuance writes its audit line, as in production.
  for (const [label, env] of [['audit on', { LOG_LEVEL: 'info' }]]) {
    const server = await startServer(env);
    // Wait for the warm scope's token, then check one answer before loading.
    for (let i = 0; i < 50; i++) {
      const ready = await fetch(`${server.url}/readyz`);
      if (ready.status === 200) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const probe = await fetch(`${server.url}${tokenPath}`, { headers: auth });
    if (probe.status !== 200) throw new Error(`probe failed: ${probe.status}`);
    entra.resetStats();
    const seed = await load(`token-server /token, ${label}`, `${server.url}${tokenPath}`, auth);
    const msi = await load(`token-server /msi/token, ${label}`, `${server.url}${msiPath}`, {
      'x-identity-header': SECRET,
    });
    rows.push({ ...seed, rss: rssMb(server.pid), idp: entra.stats().tokenRequests });
    rows.push({ ...msi, rss: rssMb(server.pid), idp: entra.stats().tokenRequests });
    await server.close();
  }
  const bare = await startBareServer(
    JSON.stringify({ access_token: 'x'.repeat(1200), expires_on: 0, expires_in: 3599, token_type: 'Bearer' }),
  );
  rows.push({
    ...(await load('bare node:http, same-size JSON (ceiling)', bare.url, {})),
    rss: '-',
    idp: '-',
  });
  await bare.close();
} finally {
  await entra.close();
  rmSync(dir, { recursive: true, force: true });
}

console.log(
  `\ntoken-server benchmark: ${connections} connections, ${duration} s each, node ${process.version}, cached token`,
);
console.log('target (issue 5): cached /token >= 15000 req/s\n');
const header = ['target', 'req/s', 'p50 ms', 'p99 ms', 'non-2xx+errors', 'IdP calls', 'server RSS MB'];
const table = rows.map((r) => [
  r.title,
  String(r.rps),
  String(r.p50),
  String(r.p99),
  String(r.non2xx),
  String(r.idp),
  String(r.rss),
]);
const widths = header.map((h, i) => Math.max(h.length, ...table.map((row) => row[i].length)));
const fmt = (row) =>
  row.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]) : cell.padStart(widths[i]))).join('  ');
console.log(fmt(header));
for (const row of table) console.log(fmt(row));
const ceiling = rows.at(-1).rps;
console.log(
  `\nratio to the bare node:http ceiling: ${rows
    .slice(0, -1)
    .map((r) => `${r.title.split(',')[0]} ${(r.rps / ceiling).toFixed(2)}`)
    .join('; ')}`,
);
