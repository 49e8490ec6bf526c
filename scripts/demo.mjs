#!/usr/bin/env node
// `npm run demo`: the whole auth-sidecars topology as local processes on loopback, no Docker.
//
//   dev-entra (HTTPS, Entra ID stand-in) ----------------------------------------------+
//   prometheus <- prometheus-gate (checks Entra tokens) <- prom-sidecar                |
//   openai stand-in (checks Entra tokens) <- openai-proxy                              | tokens
//   token-server (one workload identity, tokens for many callers)                      |
//   kube-api stand-in <- carta-forwardauth (session pods -> user header)               |
//   kube-api stand-in <- aks-broker (browser sign-in as a dev-entra user) -> redis ----+
//
// Prints the URLs and ready-to-paste curl lines; Ctrl-C (SIGINT) or SIGTERM stops everything.
//   node scripts/demo.mjs            run until stopped
//   node scripts/demo.mjs --check    start, run every printed curl line's equivalent, stop; exit 0 only if all passed
//   node scripts/demo.mjs --compose  run docker-compose.yml's services as local processes instead (no Docker:
//                                    Debian's prometheus/redis-server for those images; Traefik and its echo are skipped)
//   node scripts/demo.mjs --attach --check --ca FILE [--without traefik]
//                                    start nothing: run the checks against the compose stack already up
//                                    (`docker compose up`) on its published ports, trusting dev-entra's CA FILE;
//                                    --without names services not running, whose checks are reported as SKIP
// Environment: DEMO_RANDOM_PORTS=1 (free ephemeral ports instead of the fixed ones),
//              DEMO_WORKDIR=DIR (generated files and logs; default .tmp/demo), DEMO_VERBOSE=1 (stream logs).
// Needs Node 24 (`npm run demo` runs it on the repo's own Node 24).
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createWriteStream, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import tls from 'node:tls';
import { parseArgs } from 'node:util';

// Before anything else: Node 20 would get far and then die on tls.getCACertificates.
if (Number(process.versions.node.split('.')[0]) < 24) {
  process.stderr.write(
    `Node 24 required: this is Node ${process.version}. Run \`npm run demo\` (npm scripts use the repo's Node 24 ` +
      `from \`npm ci\`), or node_modules/.bin/node scripts/demo.mjs.\n`,
  );
  process.exit(1);
}

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const { values: flags } = parseArgs({
  options: {
    check: { type: 'boolean', default: false },
    compose: { type: 'boolean', default: false },
    attach: { type: 'boolean', default: false },
    ca: { type: 'string' },
    without: { type: 'string', multiple: true, default: [] },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (flags.help) {
  process.stdout.write(
    readFileSync(fileURLToPath(import.meta.url), 'utf8')
      .split('\n')
      .slice(1, 22)
      .map((l) => l.replace(/^\/\/ ?/, ''))
      .join('\n') + '\n',
  );
  process.exit(0);
}

/** Fixed, documented ports (docs/demo.md); DEMO_RANDOM_PORTS=1 replaces them with free ones. */
const FIXED_PORTS = {
  'dev-entra': 9443,
  prometheus: 9090,
  'prometheus-gate': 9091,
  'openai-upstream': 9300,
  'kube-api': 9600,
  redis: 9379,
  'prom-sidecar': 8081,
  'openai-proxy': 8082,
  'token-server': 8083,
  'carta-forwardauth': 8000,
  // its /livez, /readyz and /metrics (PROBE_PORT): never on the decision port
  'carta-forwardauth-probes': 8001,
  'aks-broker': 8085,
};

const TENANT = 'c0ffee00-0000-4000-8000-000000000001';
const CLIENT_IDS = {
  'prom-sidecar': '0d000000-0000-4000-8000-000000000001',
  'openai-proxy': '0d000000-0000-4000-8000-000000000002',
  'token-server': '0d000000-0000-4000-8000-000000000003',
  'aks-broker': '0d000000-0000-4000-8000-000000000005',
};
const PROM_SIDECAR_SECRET = 'demo-prom-sidecar-client-secret';
const TOKEN_SERVER_SECRET = 'demo-token-server-shared-secret';
const REDIS_PASSWORD = 'demo-redis-password';
const SESSION_SECRET = 'demo-session-secret-demo-session-secret-0001';
const CACHE_ENCRYPTION_KEY = Buffer.alloc(32, 7).toString('base64');

const node = process.execPath;
const dist = (rel) => join(root, rel);
const ENTRIES = {
  'dev-entra': dist('packages/dev-entra/dist/cli.js'),
  standin: dist('packages/testkit/dist/cli.js'),
  'prom-sidecar': dist('apps/prom-sidecar/dist/main.js'),
  'openai-proxy': dist('apps/openai-proxy/dist/main.js'),
  'token-server': dist('apps/token-server/dist/main.js'),
  'carta-forwardauth': dist('apps/carta-forwardauth/dist/main.js'),
  'aks-broker': dist('apps/aks-broker/dist/main.js'),
};

// ---------------------------------------------------------------- process supervision

/** @type {Array<{ name: string, child: import('node:child_process').ChildProcess, exited: Promise<unknown> }>} */
const children = [];
let stopping = false;
const verbose = process.env.DEMO_VERBOSE === '1';
const workdir = resolve(process.env.DEMO_WORKDIR ?? join(root, '.tmp', 'demo'));
const logDir = join(workdir, 'logs');

function say(line = '') {
  process.stdout.write(`${line}\n`);
}

/**
 * Spawns `cmd args` with its output in logs/<name>.log; resolves with the parsed `listening` line
 * (when `waitFor` is 'listening'), or right away. The start time is generous: on a busy 2-core
 * machine an app took more than 30 s to listen.
 */
function start(name, cmd, args, { env = {}, waitFor = 'listening', timeoutMs = 120_000, readyLine } = {}) {
  const child = spawn(cmd, args, {
    cwd: root,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const log = createWriteStream(join(logDir, `${name}.log`));
  const lines = [];
  const exited = once(child, 'close').then(([code, signal]) => ({ code, signal }));
  const entry = { name, child, exited, lines };
  children.push(entry);
  let resolveReady;
  const ready = new Promise((r) => (resolveReady = r));
  for (const stream of [child.stdout, child.stderr]) {
    createInterface({ input: stream }).on('line', (line) => {
      log.write(`${line}\n`);
      if (lines.length < 200) lines.push(line);
      if (verbose) process.stdout.write(`[${name}] ${line}\n`);
      if (readyLine && line.includes(readyLine)) resolveReady({});
      if (line.startsWith('{')) {
        try {
          const parsed = JSON.parse(line);
          if (parsed.message === 'listening') resolveReady(parsed);
        } catch {
          /* not JSON */
        }
      }
    });
  }
  void exited.then(({ code, signal }) => {
    log.end();
    if (!stopping) {
      say(
        `\n${name} exited unexpectedly (code ${code}, signal ${signal}); last output:\n${lines.slice(-20).join('\n')}\n`,
      );
      void stopAll(1);
    }
  });
  if (waitFor !== 'listening' && !readyLine) return Promise.resolve({ entry });
  let timer;
  return Promise.race([
    ready.then((line) => ({ entry, line })),
    exited.then(({ code }) => {
      throw new Error(`${name} exited (${code}) before it was ready:\n${lines.slice(-30).join('\n')}`);
    }),
    new Promise((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`${name} not ready within ${timeoutMs} ms:\n${lines.slice(-30).join('\n')}`)),
        timeoutMs,
      );
    }),
  ]).finally(() => clearTimeout(timer));
}

async function stopAll(code) {
  if (stopping) return;
  stopping = true;
  // All at once: each drains on SIGTERM; stragglers get SIGKILL after 10 s.
  const order = [...children].reverse();
  await Promise.all(
    order.map(async ({ child, exited }) => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    }),
  );
  process.exit(code);
}

process.on('SIGINT', () => {
  say('\nstopping ...');
  void stopAll(0);
});
process.on('SIGTERM', () => void stopAll(0));
// Last resort (an exception in this script): no child outlives the demo.
process.on('exit', () => {
  for (const { child } of children)
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
});

async function freePort() {
  const server = net.createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address();
  await new Promise((r) => server.close(r));
  return port;
}

async function assertPortFree(name, port) {
  const server = net.createServer();
  try {
    await new Promise((ok, ko) => server.once('error', ko).listen(port, '127.0.0.1', ok));
  } catch (err) {
    throw new Error(
      `port ${port} for ${name} is in use (${err.code}); stop what uses it or run with DEMO_RANDOM_PORTS=1`,
    );
  } finally {
    server.close();
  }
}

async function poll(what, fn, timeoutMs = 120_000, stepMs = 250) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    try {
      const result = await fn();
      if (result) return result;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline)
      throw new Error(`${what} within ${timeoutMs} ms${last ? `: ${last.message}` : ''}`);
    await new Promise((r) => setTimeout(r, stepMs));
  }
}

// ---------------------------------------------------------------- the stack

async function main() {
  for (const [name, file] of Object.entries(ENTRIES)) {
    if (!existsSync(file))
      throw new Error(`${file} is missing (${name}): run \`npx turbo run build\` first (npm run demo does)`);
  }
  for (const bin of ['/usr/bin/prometheus', '/usr/bin/redis-server']) {
    if (!existsSync(bin))
      throw new Error(
        `${bin} is missing: \`npm run demo\` installs it (node scripts/ensure-test-deps.mjs --demo: Debian's prometheus and redis-server, root or sudo)`,
      );
  }

  const ports = { ...FIXED_PORTS };
  if (process.env.DEMO_RANDOM_PORTS === '1') {
    for (const name of Object.keys(ports)) ports[name] = await freePort();
  } else {
    for (const [name, port] of Object.entries(ports)) await assertPortFree(name, port);
  }
  const local = (name) => `http://127.0.0.1:${ports[name]}`;
  const url = {
    entra: `https://127.0.0.1:${ports['dev-entra']}`,
    prometheus: local('prometheus'),
    gate: local('prometheus-gate'),
    openai: local('openai-upstream'),
    kube: `https://127.0.0.1:${ports['kube-api']}`,
    promSidecar: local('prom-sidecar'),
    openaiProxy: local('openai-proxy'),
    tokenServer: local('token-server'),
    carta: local('carta-forwardauth'),
    broker: local('aks-broker'),
  };

  rmSync(workdir, { recursive: true, force: true });
  mkdirSync(logDir, { recursive: true });
  const file = (name) => join(workdir, name);
  const caFile = file('dev-entra-ca.pem');

  // dev-entra registers the apps and writes their credentials: a client certificate for
  // openai-proxy, federated (workload identity) token files for token-server and aks-broker.
  writeFileSync(
    file('apps.json'),
    JSON.stringify(
      [
        { name: 'prom-sidecar', clientId: CLIENT_IDS['prom-sidecar'], clientSecret: PROM_SIDECAR_SECRET },
        { name: 'openai-proxy', clientId: CLIENT_IDS['openai-proxy'], createCertificate: 'openai-proxy.pem' },
        {
          name: 'token-server',
          clientId: CLIENT_IDS['token-server'],
          federatedSubject: 'system:serviceaccount:demo:token-server',
          federatedTokenPath: 'token-server.jwt',
        },
        {
          name: 'aks-broker',
          clientId: CLIENT_IDS['aks-broker'],
          federatedSubject: 'system:serviceaccount:demo:aks-broker',
          federatedTokenPath: 'aks-broker.jwt',
          redirectUris: [`${url.broker}/callback`],
        },
      ],
      null,
      2,
    ),
  );
  say(`starting dev-entra, prometheus, redis, stand-ins and five apps (logs: ${logDir}) ...`);
  await start('dev-entra', node, [
    ENTRIES['dev-entra'],
    '--port',
    String(ports['dev-entra']),
    '--tenant',
    TENANT,
    '--ca-file',
    caFile,
    '--apps',
    file('apps.json'),
  ]);
  // The checks' browser-like sign-in talks to dev-entra from this process.
  tls.setDefaultCACertificates([...tls.getCACertificates('default'), readFileSync(caFile, 'utf8')]);

  // Prometheus scrapes itself and every app's /metrics.
  const appJobs = ['prom-sidecar', 'openai-proxy', 'token-server', 'carta-forwardauth', 'aks-broker'];
  writeFileSync(
    file('prometheus.yml'),
    [
      'global:',
      '  scrape_interval: 5s',
      'scrape_configs:',
      '  - job_name: prometheus',
      '    static_configs:',
      `      - targets: ['127.0.0.1:${ports.prometheus}']`,
      ...appJobs.flatMap((job) => [
        `  - job_name: ${job}`,
        '    static_configs:',
        `      - targets: ['127.0.0.1:${ports[`${job}-probes`] ?? ports[job]}']`,
      ]),
      '',
    ].join('\n'),
  );
  const entraArgs = ['--dev-entra-url', url.entra, '--tenant', TENANT, '--dev-entra-ca', caFile];
  await Promise.all([
    start(
      'prometheus',
      '/usr/bin/prometheus',
      [
        `--config.file=${file('prometheus.yml')}`,
        `--storage.tsdb.path=${file('prometheus-data')}`,
        `--web.listen-address=127.0.0.1:${ports.prometheus}`,
        '--log.level=warn',
      ],
      { waitFor: 'none' },
    ),
    start(
      'redis',
      '/usr/bin/redis-server',
      [
        '--bind',
        '127.0.0.1',
        '--port',
        String(ports.redis),
        '--dir',
        workdir,
        '--save',
        '',
        '--appendonly',
        'no',
        '--requirepass',
        REDIS_PASSWORD,
        '--logfile',
        '',
      ],
      { readyLine: 'Ready to accept connections' },
    ),
    start('openai-upstream', node, [
      ENTRIES.standin,
      'openai-upstream',
      '--port',
      String(ports['openai-upstream']),
      ...entraArgs,
    ]),
    start('prometheus-gate', node, [
      ENTRIES.standin,
      'prometheus-gate',
      '--port',
      String(ports['prometheus-gate']),
      '--upstream',
      url.prometheus,
      ...entraArgs,
    ]),
    start('kube-api', node, [
      ENTRIES.standin,
      'kube-api',
      '--port',
      String(ports['kube-api']),
      ...entraArgs,
      '--ca-out',
      file('kube-ca.pem'),
      '--kubeconfig-out',
      file('carta-forwardauth.kubeconfig'),
      '--admin-kubeconfig-out',
      file('kube-admin.kubeconfig'),
    ]),
  ]);
  await poll('prometheus answering', async () => (await fetch(`${url.prometheus}/-/ready`)).ok);

  const common = {
    NODE_EXTRA_CA_CERTS: caFile,
    AZURE_AUTHORITY_HOST: url.entra,
    AZURE_TENANT_ID: TENANT,
    AZURE_DISABLE_INSTANCE_DISCOVERY: 'true',
    HOST: '127.0.0.1',
    LOG_LEVEL: 'info',
  };
  const appEnv = {
    'prom-sidecar': {
      ...common,
      PORT: String(ports['prom-sidecar']),
      AZURE_CLIENT_ID: CLIENT_IDS['prom-sidecar'],
      AZURE_CLIENT_SECRET: PROM_SIDECAR_SECRET,
      PROMETHEUS_QUERY_ENDPOINT: url.gate,
    },
    'openai-proxy': {
      ...common,
      PORT: String(ports['openai-proxy']),
      AZURE_CLIENT_ID: CLIENT_IDS['openai-proxy'],
      AZURE_CERTIFICATE_PATH: file('openai-proxy.pem'),
      API_BASE_URL: url.openai,
    },
    'token-server': {
      ...common,
      PORT: String(ports['token-server']),
      AZURE_CLIENT_ID: CLIENT_IDS['token-server'],
      AZURE_FEDERATED_TOKEN_FILE: file('token-server.jwt'),
      AZD_AUTH_SECRET: TOKEN_SERVER_SECRET,
    },
    'carta-forwardauth': {
      ...common,
      PORT: String(ports['carta-forwardauth']),
      PROBE_PORT: String(ports['carta-forwardauth-probes']),
      KUBECONFIG: file('carta-forwardauth.kubeconfig'),
      TARGET_NAMESPACE: 'skaha-workload',
    },
    'aks-broker': {
      ...common,
      PORT: String(ports['aks-broker']),
      AZURE_CLIENT_ID: CLIENT_IDS['aks-broker'],
      AZURE_FEDERATED_TOKEN_FILE: file('aks-broker.jwt'),
      PUBLIC_URL: url.broker,
      SESSION_SECRET,
      COOKIE_SECURE: 'false',
      CACHE_ENCRYPTION_KEY,
      REDIS_URL: `redis://:${REDIS_PASSWORD}@127.0.0.1:${ports.redis}/0`,
      KUBE_API_URL: url.kube,
      KUBE_CA_FILE: file('kube-ca.pem'),
      UI_NAMESPACES: 'team-a,team-b,skaha-workload',
    },
  };
  await Promise.all(appJobs.map((app) => start(app, node, [ENTRIES[app]], { env: appEnv[app] })));
  const rows = [
    ['dev-entra (Entra ID stand-in)', `${url.entra}/${TENANT}/v2.0/.well-known/openid-configuration`],
    ['prometheus (real, behind the gate)', url.prometheus],
    ['prometheus-gate (checks Entra tokens)', url.gate],
    ['openai stand-in (checks Entra tokens)', url.openai],
    ['kube-api stand-in', url.kube],
    ['redis', `127.0.0.1:${ports.redis}`],
    ['prom-sidecar', url.promSidecar],
    ['openai-proxy', url.openaiProxy],
    ['token-server', url.tokenServer],
    ['carta-forwardauth', url.carta],
    ['aks-broker', url.broker],
  ];
  return { rows, url, secret: TOKEN_SERVER_SECRET, extraChecks: [] };
}

/**
 * --compose: docker-compose.yml's services as local processes, so its commands, environment and
 * wiring are exercised without Docker. Paths inside the containers map to the work directory
 * (named volumes -> a directory each, bind-mounted files -> copies), 0.0.0.0 binds to 127.0.0.1,
 * and with DEMO_RANDOM_PORTS=1 every listen port (x-listen-ports) moves to a free one everywhere
 * it appears. Images: the app and dev tooling images run their node entry points from the repo's
 * dist/ (same relative paths as the images' /app), prom/prometheus and redis run Debian's binaries;
 * services without a local equivalent (the pause container, Traefik, whoami) are skipped.
 */
async function mainCompose() {
  const { parse } = await import('yaml');
  const compose = parse(readFileSync(join(root, 'docker-compose.yml'), 'utf8'), { merge: true });
  const services = compose.services;
  const random = process.env.DEMO_RANDOM_PORTS === '1';
  const portMap = new Map();
  for (const [name, svc] of Object.entries(services)) {
    for (const port of svc['x-listen-ports'] ?? []) {
      portMap.set(port, random ? await freePort() : port);
      if (!random) await assertPortFree(name, port);
    }
  }
  rmSync(workdir, { recursive: true, force: true });
  mkdirSync(logDir, { recursive: true });
  say(`starting docker-compose.yml's services as local processes (logs: ${logDir}) ...`);

  // Paths: named volume targets -> workdir/<volume>, bind-mounted files -> remapped copies.
  const pathMap = new Map();
  const remapPorts = (text) =>
    String(text).replace(/\b(127\.0\.0\.1|0\.0\.0\.0|localhost):(\d+)\b/g, (all, host, port) =>
      portMap.has(Number(port))
        ? `${host === '0.0.0.0' ? '127.0.0.1' : host}:${portMap.get(Number(port))}`
        : all,
    );
  const remapPaths = (text) => {
    let out = String(text);
    for (const [target, local] of [...pathMap].sort((a, b) => b[0].length - a[0].length)) {
      out = out.replace(
        new RegExp(`(^|[=\\s"'])${target.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(?=/|$|[\\s"',])`, 'g'),
        `$1${local}`,
      );
    }
    return out;
  };
  const remap = (text) => remapPorts(remapPaths(text));
  for (const svc of Object.values(services)) {
    for (const v of svc.volumes ?? []) {
      const [source, target] = String(v).split(':');
      if (pathMap.has(target)) continue;
      if (source.startsWith('.')) pathMap.set(target, join(workdir, 'config', target.replace(/\//g, '_')));
      else pathMap.set(target, join(workdir, source));
    }
  }
  for (const svc of Object.values(services)) {
    for (const v of svc.volumes ?? []) {
      const [source, target] = String(v).split(':');
      const local = pathMap.get(target);
      if (source.startsWith('.')) {
        mkdirSync(dirname(local), { recursive: true });
        writeFileSync(local, remap(readFileSync(join(root, source), 'utf8')));
      } else {
        mkdirSync(local, { recursive: true });
      }
    }
  }

  const remapArgs = (args) =>
    args.map((a, i) => {
      if (args[i - 1] === '--port' && portMap.has(Number(a))) return String(portMap.get(Number(a)));
      if (args[i - 1] === '--host' && a === '0.0.0.0') return '127.0.0.1';
      if (a.startsWith('--storage.tsdb.path='))
        return `--storage.tsdb.path=${join(workdir, 'prometheus-data')}`;
      return remap(a);
    });
  const envOf = (svc) => {
    const env = {};
    for (const [k, v] of Object.entries(svc.environment ?? {})) {
      const value = v === null ? '' : String(v);
      env[k] =
        k === 'PORT' && portMap.has(Number(value))
          ? String(portMap.get(Number(value)))
          : k === 'HOST' && value === '0.0.0.0'
            ? '127.0.0.1'
            : remap(value);
    }
    return env;
  };

  /** How each service runs here, or why it is skipped. */
  const plan = new Map();
  const skipped = [];
  for (const [name, svc] of Object.entries(services)) {
    const command = (svc.command ?? []).map(String);
    const dockerfile = typeof svc.build === 'object' ? svc.build.dockerfile : undefined;
    const appMatch = /^apps\/([\w-]+)\/Dockerfile$/.exec(dockerfile ?? '');
    if (appMatch) {
      plan.set(name, {
        cmd: node,
        args: [join(root, 'apps', appMatch[1], 'dist', 'main.js')],
        env: { NODE_ENV: 'production', ...envOf(svc) },
      });
    } else if (dockerfile === 'dev/Dockerfile' && command[0] === 'node') {
      plan.set(name, {
        cmd: node,
        args: [join(root, command[1]), ...remapArgs(command.slice(2))],
        env: { NODE_ENV: 'production', ...envOf(svc) },
      });
    } else if (svc.image?.startsWith('prom/prometheus:')) {
      plan.set(name, {
        cmd: '/usr/bin/prometheus',
        args: [...remapArgs(command), '--log.level=warn'],
        waitFor: 'none',
      });
    } else if (svc.image?.startsWith('redis:')) {
      plan.set(name, {
        cmd: '/usr/bin/redis-server',
        args: remapArgs(command.slice(1)),
        readyLine: 'Ready to accept connections',
      });
    } else {
      skipped.push(name);
    }
  }
  // Start in dependency order, each wave in parallel.
  const startedSet = new Set(skipped);
  while (startedSet.size < Object.keys(services).length) {
    const wave = [...plan.keys()].filter(
      (n) => !startedSet.has(n) && Object.keys(depsOf(services[n])).every((d) => startedSet.has(d)),
    );
    if (wave.length === 0) throw new Error('docker-compose.yml: depends_on has a cycle or a missing service');
    await Promise.all(
      wave.map((n) => {
        const p = plan.get(n);
        return start(n, p.cmd, p.args, {
          env: p.env ?? {},
          waitFor: p.waitFor ?? 'listening',
          readyLine: p.readyLine,
        });
      }),
    );
    for (const n of wave) startedSet.add(n);
    if (wave.includes('dev-entra')) {
      const ca = envOf(services['prom-sidecar']).NODE_EXTRA_CA_CERTS;
      tls.setDefaultCACertificates([...tls.getCACertificates('default'), readFileSync(ca, 'utf8')]);
    }
  }

  const listen = (name) => portMap.get(services[name]['x-listen-ports'][0]);
  const local = (name) => `http://127.0.0.1:${listen(name)}`;
  const entraCmd = services['dev-entra'].command.map(String);
  const tenant = entraCmd[entraCmd.indexOf('--tenant') + 1];
  const url = {
    entra: `https://127.0.0.1:${listen('dev-entra')}`,
    prometheus: local('prometheus'),
    gate: local('prometheus-gate'),
    openai: local('openai-upstream'),
    kube: `https://127.0.0.1:${listen('kube-api')}`,
    promSidecar: local('prom-sidecar'),
    openaiProxy: local('openai-proxy'),
    tokenServer: local('token-server'),
    carta: local('carta-forwardauth'),
    broker: envOf(services['aks-broker']).PUBLIC_URL,
  };
  await poll('prometheus answering', async () => (await fetch(`${url.prometheus}/-/ready`)).ok);
  const published = `https://127.0.0.1:${listen('dev-entra-publish')}`;
  const extraChecks = [
    {
      app: 'dev-entra',
      title: 'dev-entra through dev-entra-publish (the port the host and the browser use)',
      curl: `curl -s --cacert ${join(workdir, 'demo-state', 'dev-entra-ca.pem')} ${published}/${tenant}/v2.0/.well-known/openid-configuration`,
      run: async () => {
        const res = await fetch(`${published}/${tenant}/v2.0/.well-known/openid-configuration`);
        const body = await res.json();
        if (res.status !== 200 || body.issuer !== `${url.entra}/${tenant}/v2.0`)
          throw new Error(`HTTP ${res.status}, issuer ${body.issuer}`);
      },
    },
  ];
  const rows = [
    ...[...plan.keys()].map((n) => [
      n,
      (services[n]['x-listen-ports'] ?? []).map((p) => `127.0.0.1:${portMap.get(p)}`).join(' '),
    ]),
    ...skipped.map((n) => [n, '(skipped: needs Docker)']),
  ];
  return { rows, url, secret: envOf(services['token-server']).AZD_AUTH_SECRET, extraChecks };
}

/**
 * --attach: the compose stack is already up (`docker compose up`), nothing is started here. Each
 * service is reached on the host port that publishes its listen port; dev-entra through its
 * published forwarder, as the browser reaches it.
 */
async function mainAttach() {
  if (!flags.ca)
    throw new Error("--attach needs --ca FILE (dev-entra's CA, in the stack's demo-state volume)");
  const { parse } = await import('yaml');
  const services = parse(readFileSync(join(root, 'docker-compose.yml'), 'utf8'), { merge: true }).services;
  const published = new Map();
  for (const svc of Object.values(services)) {
    for (const p of svc.ports ?? []) {
      const parts = String(p).split(':');
      published.set(Number(parts.at(-1)), Number(parts.at(-2)));
    }
  }
  const hostPort = (name) => {
    const port = services[name]['x-listen-ports'][0];
    if (!published.has(port)) throw new Error(`docker-compose.yml publishes no port for ${name} (${port})`);
    return published.get(port);
  };
  tls.setDefaultCACertificates([...tls.getCACertificates('default'), readFileSync(flags.ca, 'utf8')]);
  const local = (name) => `http://127.0.0.1:${hostPort(name)}`;
  const env = (name) => services[name].environment ?? {};
  const entraCmd = services['dev-entra'].command.map(String);
  const tenant = entraCmd[entraCmd.indexOf('--tenant') + 1];
  const url = {
    entra: `https://127.0.0.1:${hostPort('dev-entra-publish')}`,
    prometheus: local('prometheus'),
    gate: local('prometheus-gate'),
    promSidecar: local('prom-sidecar'),
    openaiProxy: local('openai-proxy'),
    tokenServer: local('token-server'),
    carta: local('carta-forwardauth'),
    broker: env('aks-broker').PUBLIC_URL,
  };
  await poll('prometheus answering', async () => (await fetch(`${url.prometheus}/-/ready`)).ok, 120_000);
  const traefik = local('traefik');
  const extraChecks = [
    {
      app: 'dev-entra',
      title: 'dev-entra through dev-entra-publish (the port the host and the browser use)',
      curl: `curl -s --cacert ${flags.ca} ${url.entra}/${tenant}/v2.0/.well-known/openid-configuration`,
      run: async () => {
        const res = await fetch(`${url.entra}/${tenant}/v2.0/.well-known/openid-configuration`);
        const body = await res.json();
        if (res.status !== 200 || body.issuer !== `${url.entra}/${tenant}/v2.0`)
          throw new Error(`HTTP ${res.status}, issuer ${body.issuer}`);
      },
    },
    {
      app: 'traefik',
      needs: 'traefik',
      title: 'the forwardAuth hop: Traefik asks carta-forwardauth; the echo sees carta-auth-token: alice',
      curl: `curl -s ${traefik}/session/carta/abc123/ | grep -i carta-auth-token`,
      run: async () => {
        const res = await fetch(`${traefik}/session/carta/abc123/`);
        const text = await res.text();
        if (res.status !== 200 || !/^carta-auth-token: alice$/im.test(text))
          throw new Error(`HTTP ${res.status}: ${text.slice(0, 300)}`);
      },
    },
    {
      app: 'traefik',
      needs: 'traefik',
      title: 'the forwardAuth hop refuses an unknown session (403, the echo never sees it)',
      curl: `curl -s -o /dev/null -w '%{http_code}\\n' ${traefik}/session/carta/nosuch0/   # 403`,
      run: async () => {
        const res = await fetch(`${traefik}/session/carta/nosuch0/`);
        await res.text();
        if (res.status !== 403) throw new Error(`HTTP ${res.status} (expected 403)`);
      },
    },
  ];
  const rows = Object.keys(services)
    .filter((n) => services[n]['x-listen-ports']?.some((p) => published.has(p)))
    .map((n) => [n, `127.0.0.1:${hostPort(n)}${flags.without.includes(n) ? ' (not running)' : ''}`]);
  return { rows, url, secret: env('token-server').AZD_AUTH_SECRET, extraChecks };
}

function depsOf(svc) {
  const d = svc.depends_on ?? [];
  return Array.isArray(d) ? Object.fromEntries(d.map((n) => [n, {}])) : d;
}

// ---------------------------------------------------------------- curl lines and their checks

function demoChecks(url, secret) {
  const chatPath = '/openai/deployments/gpt-4o-mini/chat/completions?api-version=2024-10-21';
  const chatBody = (stream) =>
    JSON.stringify({
      messages: [{ role: 'user', content: 'Say hello' }],
      ...(stream ? { stream: true } : {}),
    });
  const sq = (s) => `'${s.replace(/'/g, `'\\''`)}'`;
  const expectStatus = async (res, status) => {
    const text = await res.text();
    if (res.status !== status)
      throw new Error(`HTTP ${res.status} (expected ${status}): ${text.slice(0, 300)}`);
    return text;
  };
  const mgmt = 'https://management.azure.com';
  return [
    {
      app: 'prom-sidecar',
      title: 'PromQL through the sidecar (it adds the Entra token the gate demands)',
      curl: `curl -s '${url.promSidecar}/api/v1/query?query=up'`,
      run: () =>
        poll('prometheus has scraped samples', async () => {
          const body = JSON.parse(
            await expectStatus(await fetch(`${url.promSidecar}/api/v1/query?query=up`), 200),
          );
          return body.status === 'success' && body.data.result.length > 0;
        }),
    },
    {
      app: 'prom-sidecar',
      title: 'the gate refuses the same query without the sidecar',
      curl: `curl -s -o /dev/null -w '%{http_code}\\n' '${url.gate}/api/v1/query?query=up'   # 401`,
      run: async () => expectStatus(await fetch(`${url.gate}/api/v1/query?query=up`), 401),
    },
    {
      app: 'prom-sidecar',
      title: 'token health',
      curl: `curl -s ${url.promSidecar}/health`,
      run: async () => {
        const body = JSON.parse(await expectStatus(await fetch(`${url.promSidecar}/health`), 200));
        if (body.token_valid !== true) throw new Error(`token_valid is ${body.token_valid}`);
      },
    },
    {
      app: 'openai-proxy',
      title: 'chat completion (the client sends no credentials; the proxy adds the bearer token)',
      curl: `curl -s '${url.openaiProxy}${chatPath}' -H 'content-type: application/json' -d ${sq(chatBody(false))}`,
      run: async () => {
        const body = JSON.parse(
          await expectStatus(
            await fetch(`${url.openaiProxy}${chatPath}`, {
              method: 'POST',
              headers: { 'content-type': 'application/json' },
              body: chatBody(false),
            }),
            200,
          ),
        );
        if (!body.choices?.[0]?.message?.content) throw new Error(`no completion: ${JSON.stringify(body)}`);
      },
    },
    {
      app: 'openai-proxy',
      title: 'streaming chat completion (server-sent events pass through as they come)',
      curl: `curl -sN '${url.openaiProxy}${chatPath}' -H 'content-type: application/json' -d ${sq(chatBody(true))}`,
      run: async () => {
        const res = await fetch(`${url.openaiProxy}${chatPath}`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: chatBody(true),
        });
        const text = await expectStatus(res, 200);
        if (!res.headers.get('content-type')?.includes('text/event-stream') || !text.includes('data: [DONE]'))
          throw new Error(`not an SSE stream: ${text.slice(0, 200)}`);
      },
    },
    {
      app: 'token-server',
      title: 'a token for any scope, with the shared secret',
      curl: `curl -s '${url.tokenServer}/token?scope=${mgmt}/.default' -H 'Authorization: Bearer ${secret}'`,
      run: async () => {
        const body = JSON.parse(
          await expectStatus(
            await fetch(`${url.tokenServer}/token?scope=${mgmt}/.default`, {
              headers: { authorization: `Bearer ${secret}` },
            }),
            200,
          ),
        );
        if (typeof body.access_token !== 'string')
          throw new Error(`no access_token: ${JSON.stringify(body)}`);
      },
    },
    {
      app: 'token-server',
      title:
        'the App Service managed-identity protocol (IDENTITY_ENDPOINT + IDENTITY_HEADER for unmodified Azure SDKs)',
      curl: `curl -s '${url.tokenServer}/msi/token?resource=${mgmt}&api-version=2019-08-01' -H 'X-IDENTITY-HEADER: ${secret}'`,
      run: async () => {
        const body = JSON.parse(
          await expectStatus(
            await fetch(`${url.tokenServer}/msi/token?resource=${mgmt}&api-version=2019-08-01`, {
              headers: { 'x-identity-header': secret },
            }),
            200,
          ),
        );
        if (typeof body.access_token !== 'string')
          throw new Error(`no access_token: ${JSON.stringify(body)}`);
      },
    },
    {
      app: 'token-server',
      title: 'a wrong secret is refused',
      curl: `curl -s -o /dev/null -w '%{http_code}\\n' '${url.tokenServer}/token?scope=${mgmt}/.default' -H 'Authorization: Bearer wrong'   # 401`,
      run: async () =>
        expectStatus(
          await fetch(`${url.tokenServer}/token?scope=${mgmt}/.default`, {
            headers: { authorization: 'Bearer wrong' },
          }),
          401,
        ),
    },
    {
      app: 'carta-forwardauth',
      title: "allow: session abc123 is alice's pod -> 200 with carta-auth-token: alice",
      curl: `curl -si ${url.carta}/ -H 'X-Forwarded-Uri: /session/carta/abc123/' | grep -i -e '^HTTP' -e carta-auth-token`,
      run: () =>
        poll('carta-forwardauth allows abc123', async () => {
          const res = await fetch(`${url.carta}/`, {
            headers: { 'x-forwarded-uri': '/session/carta/abc123/' },
          });
          await res.text();
          if (res.status !== 200 || res.headers.get('carta-auth-token') !== 'alice')
            throw new Error(`HTTP ${res.status}, carta-auth-token ${res.headers.get('carta-auth-token')}`);
          return true;
        }),
    },
    {
      app: 'carta-forwardauth',
      title: 'deny: no such session -> 403',
      curl: `curl -s -o /dev/null -w '%{http_code}\\n' ${url.carta}/ -H 'X-Forwarded-Uri: /session/carta/nosuch0/'   # 403`,
      run: async () =>
        expectStatus(
          await fetch(`${url.carta}/`, { headers: { 'x-forwarded-uri': '/session/carta/nosuch0/' } }),
          403,
        ),
    },
    {
      app: 'aks-broker',
      title:
        'open in a browser and sign in as alice, bob or carol@contoso.test: the page shows what that user may do (bob: pods in team-a, not team-b)',
      curl: `${url.broker}/`,
      run: () => brokerSignIn(url),
    },
    {
      app: 'aks-broker',
      title: 'not signed in: the Kubernetes proxy refuses',
      curl: `curl -s -o /dev/null -w '%{http_code}\\n' ${url.broker}/k8s/api/v1/namespaces/team-a/pods   # 401`,
      run: async () =>
        expectStatus(
          await fetch(`${url.broker}/k8s/api/v1/namespaces/team-a/pods`, { redirect: 'manual' }),
          401,
        ),
    },
  ];
}

/**
 * What the browser does: /login -> dev-entra sign-in page -> pick bob -> /callback; then the
 * Kubernetes API as bob: pods in team-a (his group's RoleBinding) yes, pods in team-b no.
 */
async function brokerSignIn(url) {
  const cookies = new Map();
  const jar = () => [...cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  const brokerFetch = async (path) => {
    const res = await fetch(new URL(path, url.broker), {
      headers: cookies.size ? { cookie: jar() } : {},
      redirect: 'manual',
    });
    for (const c of res.headers.getSetCookie()) {
      const [pair] = c.split(';');
      const eq = pair.indexOf('=');
      cookies.set(pair.slice(0, eq), pair.slice(eq + 1));
    }
    return res;
  };
  const login = await brokerFetch('/login');
  const authorize = login.headers.get('location');
  if (login.status !== 302 || !authorize?.startsWith(url.entra))
    throw new Error(`/login: HTTP ${login.status} -> ${authorize}`);
  const page = await fetch(authorize, { redirect: 'manual' });
  const html = await page.text();
  const action = /<form method="post" action="([^"]+)"/.exec(html)?.[1];
  const tx = /name="tx" value="([^"]+)"/.exec(html)?.[1];
  if (!action || !tx) throw new Error(`no sign-in form on dev-entra's page (HTTP ${page.status})`);
  const picked = await fetch(new URL(action.replace(/&amp;/g, '&'), authorize), {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ tx, user: 'bob@contoso.test' }),
    redirect: 'manual',
  });
  const callback = picked.headers.get('location');
  if (picked.status !== 302 || !callback) throw new Error(`sign-in form: HTTP ${picked.status}`);
  const done = await brokerFetch(callback);
  await done.text();
  if (done.status !== 303) throw new Error(`/callback: HTTP ${done.status}`);
  const me = await brokerFetch('/api/me');
  const meText = await me.text();
  if (me.status !== 200 || !meText.includes('bob@contoso.test'))
    throw new Error(`/api/me: HTTP ${me.status} ${meText.slice(0, 200)}`);
  const pods = await brokerFetch('/k8s/api/v1/namespaces/team-a/pods');
  const podsBody = await pods.text();
  if (pods.status !== 200 || !podsBody.includes('api-0'))
    throw new Error(`team-a pods as bob: HTTP ${pods.status} ${podsBody.slice(0, 200)}`);
  const denied = await brokerFetch('/k8s/api/v1/namespaces/team-b/pods');
  await denied.text();
  if (denied.status !== 403) throw new Error(`team-b pods as bob: HTTP ${denied.status} (expected 403)`);
}

function printSummary(rows, checks) {
  say('');
  say('auth-sidecars demo is up:');
  for (const [name, u] of rows) say(`  ${name.padEnd(40)} ${u}`);
  say('');
  let app = '';
  for (const c of checks) {
    if (c.app !== app) {
      app = c.app;
      say(`# ${app}`);
    }
    say(`#   ${c.title}`);
    say(c.curl);
  }
  say('');
  say(
    `dev-entra demo users: alice@contoso.test, bob@contoso.test, carol@contoso.test (no passwords). Files and logs: ${workdir}`,
  );
}

const started = Date.now();
try {
  const { rows, url, secret, extraChecks } = flags.compose
    ? await mainCompose()
    : flags.attach
      ? await mainAttach()
      : await main();
  const checks = [...extraChecks, ...demoChecks(url, secret)];
  printSummary(rows, checks);
  say(`pids: ${children.map(({ name, child }) => `${name}=${child.pid}`).join(' ')}`);
  if (flags.check) {
    say('\nchecking every line above ...');
    let failed = 0;
    let skipped = 0;
    for (const c of checks) {
      if (c.needs && flags.without.includes(c.needs)) {
        skipped += 1;
        say(`  SKIP  ${c.app}: ${c.title}\n        ${c.needs} is not running (--without ${c.needs})`);
        continue;
      }
      try {
        await c.run();
        say(`  PASS  ${c.app}: ${c.title}`);
      } catch (err) {
        failed += 1;
        say(`  FAIL  ${c.app}: ${c.title}\n        ${err.message}`);
      }
    }
    say(
      failed === 0
        ? `all ${checks.length - skipped} checks passed${skipped ? `, ${skipped} skipped` : ''} (${((Date.now() - started) / 1000).toFixed(1)} s)`
        : `${failed} of ${checks.length - skipped} checks failed${skipped ? `, ${skipped} skipped` : ''} (logs: ${logDir})`,
    );
    await stopAll(failed === 0 ? 0 : 1);
  } else {
    say('Ctrl-C stops everything.');
  }
} catch (err) {
  say(`demo failed to start: ${err.message}`);
  await stopAll(1);
}
