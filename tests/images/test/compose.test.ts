// docker-compose.yml, really up: Debian's docker-compose (1.29) drives podman's Docker-compatible API
// socket (`podman system service`), with the app and dev tooling images built from the repo's
// Dockerfiles, and the demo's curl checks (scripts/demo.mjs --attach) pass against the published
// ports. The images that cannot be pulled here get local stand-ins in this test only (an override
// file; the committed file keeps the real images): the pause container, Prometheus and Redis from
// Debian's packages, and a whoami echo, all FROM the local Debian base. Traefik has no Debian
// package and no image to pull here, so the forwardAuth hop through it is not run: the test says so
// and only those checks are skipped (demo.mjs prints them as SKIP).
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { ensureBase, ensureBuilt } from './support/images.js';
import {
  podman,
  podmanEnv,
  podmanOk,
  registry,
  repoRoot,
  run,
  say,
  stateDir,
  TAG,
  until,
} from './support/podman.js';

interface Service {
  image?: string;
  build?: { dockerfile?: string };
  ports?: string[];
  healthcheck?: unknown;
  'x-listen-ports'?: number[];
}

const APPS = ['prom-sidecar', 'openai-proxy', 'token-server', 'carta-forwardauth', 'aks-broker'];
/** Not runnable here: no image to pull and no Debian package. */
const NOT_RUNNABLE = { traefik: 'Traefik has no Debian package and its image cannot be pulled here' };

const services = (
  parse(readFileSync(join(repoRoot, 'docker-compose.yml'), 'utf8'), { merge: true }) as {
    services: Record<string, Service>;
  }
).services;
const project = registry.replace(/^localhost\/auth-sidecars-test-/, 'imagetests');
const dir = join(stateDir, 'compose');
const socket = join(dir, 'podman.sock');
const composeEnv = { ...podmanEnv, DOCKER_HOST: `unix://${socket}`, COMPOSE_HTTP_TIMEOUT: '600' };
const STANDINS = `${registry}/standins:${TAG}`;

/** The stand-ins image: what each unpullable image does, from Debian's packages on the local base. */
const STANDINS_FILES: Record<string, string> = {
  Containerfile: `FROM node:24-bookworm-slim
RUN apt-get update -qq \\
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus redis-server \\
 && rm -rf /var/lib/apt/lists/* \\
 && mkdir -p /prometheus
COPY pause whoami.mjs /usr/local/bin/
`,
  // registry.k8s.io/pause: hold the namespace, exit on TERM.
  pause: `#!/bin/sh
trap 'exit 0' TERM INT
sleep infinity &
wait
`,
  // traefik/whoami: answer any path with the request line and headers (--port=N).
  'whoami.mjs': `import http from 'node:http';
const port = Number(process.argv.find((a) => a.startsWith('--port='))?.slice(7) ?? 80);
const server = http.createServer((req, res) => {
  const headers = Object.entries(req.headers).map(([k, v]) => k.replace(/(^|-)(\\w)/g, (m) => m.toUpperCase()) + ': ' + v);
  res.end(['Hostname: carta-echo', req.method + ' ' + req.url + ' HTTP/' + req.httpVersion, ...headers, ''].join('\\n'));
}).listen(port, '0.0.0.0');
process.on('SIGTERM', () => server.close(() => process.exit(0)));
`,
};

/** Images for this test: the repo's images by their test tags, stand-ins for the rest. */
function override(): string {
  const out: Record<string, Record<string, unknown>> = {};
  for (const [name, svc] of Object.entries(services)) {
    const dockerfile = svc.build?.dockerfile;
    if (dockerfile === 'dev/Dockerfile') out[name] = { image: `${registry}/dev:${TAG}` };
    else if (dockerfile?.startsWith('apps/'))
      out[name] = { image: `${registry}/${dockerfile.split('/')[1]}:${TAG}` };
  }
  out.net = { image: STANDINS, entrypoint: ['/usr/local/bin/pause'] };
  out.prometheus = { image: STANDINS, entrypoint: ['/usr/bin/prometheus'] };
  out.redis = { image: STANDINS }; // no ENTRYPOINT: its command starts with redis-server
  out['carta-echo'] = { image: STANDINS, entrypoint: ['node', '/usr/local/bin/whoami.mjs'] };
  return stringify({ services: out });
}

function compose(args: string[], timeoutMs = 15 * 60_000) {
  return run(
    'docker-compose',
    ['-p', project, '-f', join(repoRoot, 'docker-compose.yml'), '-f', join(dir, 'override.yml'), ...args],
    { env: composeEnv, timeoutMs },
  );
}

/** GET /_ping on the API socket. */
function ping(): Promise<boolean> {
  return new Promise((resolve) => {
    const req = http.get({ socketPath: socket, path: '/_ping' }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('error', () => resolve(false));
  });
}

async function portFree(port: number): Promise<boolean> {
  const server = net.createServer();
  try {
    await new Promise<void>((ok, ko) => server.once('error', ko).listen(port, '127.0.0.1', ok));
    return true;
  } catch {
    return false;
  } finally {
    server.close();
  }
}

/**
 * A machine-wide lock (flock), one compose stack at a time: held by the flock process alone (-o)
 * until its `cat` reads the end of its stdin, which `release()`, or this process dying, closes.
 */
async function lock(file: string): Promise<{ release: () => Promise<void> }> {
  const child = spawn('flock', ['-o', file, 'sh', '-c', 'echo locked; exec cat'], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const closed = once(child, 'close');
  await new Promise<void>((resolve, reject) => {
    child.stdout!.once('data', () => resolve());
    child.once('exit', (code) => reject(new Error(`flock ${file} exited ${code}`)));
  });
  return {
    release: async () => {
      child.stdin!.end();
      await closed;
    },
  };
}

/** `podman healthcheck run` for each container, one at a time, every 2 s until stopped. */
function runHealthChecks(containers: string[]): { stop: () => Promise<void> } {
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      for (const name of containers) await podman(['healthcheck', 'run', name], { timeoutMs: 60_000 });
      await new Promise((r) => setTimeout(r, 2000));
    }
  })();
  return {
    stop: async () => {
      stopped = true;
      await loop;
    },
  };
}

let service: ChildProcess | undefined;
let held: { release: () => Promise<void> } | undefined;
let healthChecks: { stop: () => Promise<void> } | undefined;

beforeAll(async () => {
  await ensureBase();
  const builds = await ensureBuilt([...APPS, 'dev']);
  for (const b of builds.values())
    if (!b.ok) throw new Error(`podman build of ${b.name} failed (log: ${b.log}):\n${b.tail}`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(join(dir, 'standins'), { recursive: true });
  for (const [file, text] of Object.entries(STANDINS_FILES))
    writeFileSync(join(dir, 'standins', file), text, { mode: file === 'pause' ? 0o755 : 0o644 });
  await podmanOk(['build', '--quiet', '--format', 'docker', '-t', STANDINS, join(dir, 'standins')], {
    timeoutMs: 20 * 60_000,
  });
  writeFileSync(join(dir, 'override.yml'), override());

  held = await lock('/tmp/auth-sidecars-compose.lock');
  service = spawn('podman', ['system', 'service', '--time=0', `unix://${socket}`], {
    env: podmanEnv,
    stdio: 'ignore',
  });
  await until('podman API socket answering', ping, 60_000);
  await compose(['down', '-v', '--remove-orphans', '-t', '5']); // what an interrupted run left
}, 60 * 60_000);

afterAll(async () => {
  await healthChecks?.stop();
  if (service) {
    // Twice: the first pass can race on containers that join another's network namespace.
    const started = Date.now();
    for (let i = 0; i < 2; i++) await compose(['down', '-v', '--remove-orphans', '-t', '10']);
    say(`docker-compose down -v: ${Math.round((Date.now() - started) / 1000)} s\n`);
    service.kill('SIGTERM');
    await once(service, 'close');
  }
  await held?.release();
}, 10 * 60_000);

describe('docker-compose.yml through podman', () => {
  it(
    'comes up with docker-compose against the podman API socket and passes the demo checks',
    async () => {
      const published = Object.values(services).flatMap((s) =>
        (s.ports ?? []).map((p) => Number(p.split(':').at(-2))),
      );
      const busy = [];
      for (const port of published) if (!(await portFree(port))) busy.push(port);
      expect({ busyHostPorts: busy }).toEqual({ busyHostPorts: [] }); // the stack publishes fixed ports

      // No systemd here: podman never schedules health checks, so run them for docker-compose,
      // whose depends_on waits for `service_healthy`.
      const checked = Object.keys(services).filter((n) => services[n]!.healthcheck);
      healthChecks = runHealthChecks(checked.map((n) => `${project}_${n}_1`));
      const running = Object.keys(services).filter((n) => !(n in NOT_RUNNABLE));
      for (const [name, why] of Object.entries(NOT_RUNNABLE))
        say(`SKIP ${name}: not started (${why}); its forwardAuth hop checks are skipped\n`);
      const upStarted = Date.now();
      const up = await compose(['up', '-d', '--no-build', ...running]);
      say(`docker-compose up: ${Math.round((Date.now() - upStarted) / 1000)} s\n`);
      expect({ code: up.code, output: up.stderr.slice(-3000) }).toEqual({
        code: 0,
        output: expect.any(String),
      });
      await healthChecks.stop();

      const ps = await podmanOk([
        'ps',
        '--filter',
        `label=com.docker.compose.project=${project}`,
        '--format',
        '{{.Names}} {{.Image}}',
      ]);
      for (const name of running) expect(ps).toContain(`${project}_${name}_1`);
      for (const app of APPS) expect(ps).toContain(`${project}_${app}_1 ${registry}/${app}:${TAG}`);

      const volume = await podmanOk([
        'volume',
        'inspect',
        `${project}_demo-state`,
        '--format',
        '{{.Mountpoint}}',
      ]);
      const ca = join(dir, 'dev-entra-ca.pem');
      writeFileSync(ca, readFileSync(join(volume, 'dev-entra-ca.pem')));
      const check = await run(
        process.execPath,
        [
          join(repoRoot, 'scripts/demo.mjs'),
          '--attach',
          '--check',
          '--ca',
          ca,
          ...Object.keys(NOT_RUNNABLE).flatMap((n) => ['--without', n]),
        ],
        { env: { ...process.env, DEMO_WORKDIR: join(dir, 'demo') }, timeoutMs: 10 * 60_000 },
      );
      const out = `${check.stdout}${check.stderr}`;
      say(
        `${out
          .split('\n')
          .filter((l) => /^ {2}(PASS|FAIL|SKIP)|checks (passed|failed)/.test(l))
          .join('\n')}\n`,
      );
      if (check.code !== 0) {
        const logs = await Promise.all(
          running.map(async (n) => {
            const r = await podman(['logs', '--tail', '30', `${project}_${n}_1`]);
            return `--- ${n}\n${r.stdout}${r.stderr}`;
          }),
        );
        throw new Error(`demo checks failed (exit ${check.code}):\n${out}\n${logs.join('\n')}`);
      }
      expect(out).toMatch(/all \d+ checks passed, 2 skipped/);
      for (const app of [...APPS, 'dev-entra']) expect(out).toMatch(new RegExp(`PASS {2}${app}: `));
      const skipped = [...out.matchAll(/^ {2}SKIP {2}(\S+):/gm)].map((m) => m[1]);
      expect(skipped).toEqual(['traefik', 'traefik']);

      // The echo behind Traefik answers inside the shared namespace (what Traefik would forward to).
      const echo = await podmanOk([
        'exec',
        `${project}_carta-echo_1`,
        'node',
        '-e',
        "fetch('http://127.0.0.1:8090/session/carta/abc123/', { headers: { 'carta-auth-token': 'alice' } }).then((r) => r.text()).then(console.log)",
      ]);
      expect(echo).toContain('Carta-Auth-Token: alice');
    },
    60 * 60_000,
  );
});
