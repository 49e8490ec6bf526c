// Static checks of the docker compose demo stack (tests/images/test/compose.test.ts brings it up
// through podman): every app service's environment passes that app's own config loader (the zod
// schemas in apps/<app>/dist/config.js), ports do not clash, every image/build context/Dockerfile/
// bind-mounted file exists, dependencies and the shared network namespace point at real services,
// and the wiring (URLs, client ids, credential files, Traefik and Prometheus targets) lines up.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parse } from 'yaml';
import { repoRoot } from './support/repo.js';

interface Service {
  image?: string;
  build?: string | { context?: string; dockerfile?: string };
  command?: string[] | string;
  environment?: Record<string, string | number | boolean | null> | string[];
  ports?: Array<string | { target: number; published?: string | number; host_ip?: string }>;
  volumes?: Array<string | { type?: string; source?: string; target: string }>;
  depends_on?: string[] | Record<string, { condition: string }>;
  network_mode?: string;
  healthcheck?: { test: string[] | string };
  'x-listen-ports'?: number[];
  [key: string]: unknown;
}

interface Compose {
  services: Record<string, Service>;
  volumes?: Record<string, unknown>;
}

const APPS = ['prom-sidecar', 'openai-proxy', 'token-server', 'carta-forwardauth', 'aks-broker'] as const;
type App = (typeof APPS)[number];
/** Each app's exported config loader (throws a ConfigError listing every problem). */
const LOADERS: Record<App, string> = {
  'prom-sidecar': 'loadPromSidecarConfig',
  'openai-proxy': 'loadOpenAiProxyConfig',
  'token-server': 'loadTokenServerConfig',
  'carta-forwardauth': 'readConfig',
  'aks-broker': 'loadBrokerConfig',
};
/** Variables each app cannot start without (carta-forwardauth: all have defaults; KUBECONFIG is read by the Kubernetes client). */
const REQUIRED: Record<App, string[]> = {
  'prom-sidecar': ['PROMETHEUS_QUERY_ENDPOINT'],
  'openai-proxy': ['API_BASE_URL', 'AZURE_CLIENT_ID', 'AZURE_TENANT_ID'],
  'token-server': ['AZD_AUTH_SECRET'],
  'carta-forwardauth': [],
  'aks-broker': [
    'PUBLIC_URL',
    'SESSION_SECRET',
    'AZURE_FEDERATED_TOKEN_FILE',
    'KUBE_API_URL',
    'CACHE_ENCRYPTION_KEY',
  ],
};
const STAND_INS = [
  'dev-entra',
  'prometheus',
  'prometheus-gate',
  'openai-upstream',
  'kube-api',
  'traefik',
  'carta-echo',
  'redis',
];

const composeFile = join(repoRoot, 'docker-compose.yml');
const compose = parse(readFileSync(composeFile, 'utf8'), { merge: true }) as Compose;
const services = compose.services;
const names = Object.keys(services);

function envOf(service: Service): Record<string, string> {
  const env = service.environment ?? {};
  if (Array.isArray(env)) {
    return Object.fromEntries(env.map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]));
  }
  return Object.fromEntries(Object.entries(env).map(([k, v]) => [k, v === null ? '' : String(v)]));
}

function commandOf(service: Service): string[] {
  const c = service.command ?? [];
  return Array.isArray(c) ? c.map(String) : c.split(/\s+/);
}

function dependsOn(service: Service): string[] {
  const d = service.depends_on ?? [];
  return Array.isArray(d) ? d : Object.keys(d);
}

/** host ip, host port, container port of each published port. */
function published(service: Service): Array<{ hostIp: string; host: number; target: number }> {
  return (service.ports ?? []).map((p) => {
    if (typeof p === 'object')
      return { hostIp: p.host_ip ?? '0.0.0.0', host: Number(p.published), target: p.target };
    const parts = p.split(':');
    if (parts.length === 3) return { hostIp: parts[0]!, host: Number(parts[1]), target: Number(parts[2]) };
    if (parts.length === 2) return { hostIp: '0.0.0.0', host: Number(parts[0]), target: Number(parts[1]) };
    throw new Error(`port ${p} publishes no fixed host port`);
  });
}

/** Services in the shared network namespace and what each listens on. */
const listenPorts = new Map(names.map((n) => [n, services[n]!['x-listen-ports'] ?? []]));
const allListenPorts = [...listenPorts.values()].flat();
const netHolder = 'net';

/** Every loopback URL or host:port in the stack's env values and commands. */
function loopbackPorts(values: string[]): number[] {
  return values.flatMap((v) => [...v.matchAll(/(?:127\.0\.0\.1|localhost):(\d+)/g)].map((m) => Number(m[1])));
}

describe('docker-compose.yml', () => {
  it('has the whole demo topology: dev-entra, Prometheus and its gate, the stand-ins, Traefik + echo, Redis and all five apps', () => {
    expect(names).toEqual(expect.arrayContaining([...STAND_INS, ...APPS]));
    expect(services.prometheus!.image).toMatch(/^prom\/prometheus:/);
    expect(services.traefik!.image).toMatch(/^traefik:v3/);
    expect(services['carta-echo']!.image).toMatch(/^traefik\/whoami:/);
  });

  it('every image is pinned to a tag, and every build context and Dockerfile exists', () => {
    for (const [name, s] of Object.entries(services)) {
      expect({ name, hasImageOrBuild: s.image !== undefined || s.build !== undefined }).toEqual({
        name,
        hasImageOrBuild: true,
      });
      if (s.image !== undefined)
        expect({ name, image: s.image }).toEqual({
          name,
          image: expect.stringMatching(/^[a-z0-9./_-]+:(?!latest$)[\w.-]+$/),
        });
      if (s.build !== undefined) {
        const build = typeof s.build === 'string' ? { context: s.build } : s.build;
        const context = resolve(repoRoot, build.context ?? '.');
        expect({ name, context: existsSync(context) && statSync(context).isDirectory() }).toEqual({
          name,
          context: true,
        });
        const dockerfile = resolve(context, build.dockerfile ?? 'Dockerfile');
        expect({ name, dockerfile: existsSync(dockerfile) ? dockerfile : `missing ${dockerfile}` }).toEqual({
          name,
          dockerfile,
        });
      }
    }
  });

  it.each(APPS)('%s is built from its apps/<app>/Dockerfile with the repo root as context', (app) => {
    const build = services[app]!.build;
    expect(build).toEqual({ context: '.', dockerfile: `apps/${app}/Dockerfile` });
  });

  it.each(APPS)("%s: its environment satisfies the app's own config schema", async (app) => {
    const mod = (await import(
      pathToFileURL(join(repoRoot, 'apps', app, 'dist', 'config.js')).href
    )) as Record<string, (env: Record<string, string>) => unknown>;
    const load = mod[LOADERS[app]];
    expect(typeof load).toBe('function');
    const env = envOf(services[app]!);
    expect(() => load!(env)).not.toThrow();
    // The loader has teeth: a bad port is refused, and some variable set here is required.
    expect(() => load!({ ...env, PORT: 'not-a-port' })).toThrow();
    const required = Object.keys(env).filter((k) => {
      const { [k]: _dropped, ...rest } = env;
      try {
        load!(rest);
        return false;
      } catch {
        return true;
      }
    });
    expect(required).toEqual(expect.arrayContaining(REQUIRED[app]));
    // It listens where the stack expects it.
    expect(listenPorts.get(app)).toEqual([Number(env.PORT)]);
  });

  it('shares one network namespace: every service joins `net`, which alone publishes ports', () => {
    expect(services[netHolder]).toBeDefined();
    for (const name of names.filter((n) => n !== netHolder)) {
      expect({ name, network_mode: services[name]!.network_mode }).toEqual({
        name,
        network_mode: `service:${netHolder}`,
      });
      expect({ name, ports: services[name]!.ports }).toEqual({ name, ports: undefined });
      expect({ name, dependsOnNet: dependsOn(services[name]!).includes(netHolder) }).toEqual({
        name,
        dependsOnNet: true,
      });
    }
  });

  it('ports do not clash: listen ports in the shared namespace and published host ports are unique', () => {
    const dup = (xs: number[]) => xs.filter((x, i) => xs.indexOf(x) !== i);
    expect(dup(allListenPorts)).toEqual([]);
    for (const name of names.filter((n) => n !== netHolder))
      expect({ name, ports: listenPorts.get(name)!.length > 0 }).toEqual({ name, ports: true });
    const pub = published(services[netHolder]!);
    expect(pub.length).toBeGreaterThan(0);
    expect(dup(pub.map((p) => p.host))).toEqual([]);
    for (const p of pub) {
      expect({ port: p.host, hostIp: p.hostIp }).toEqual({ port: p.host, hostIp: '127.0.0.1' });
      // Something in the namespace listens on every published target.
      expect({ target: p.target, listened: allListenPorts.includes(p.target) }).toEqual({
        target: p.target,
        listened: true,
      });
    }
    for (const app of APPS) {
      expect({ app, published: pub.some((p) => listenPorts.get(app)!.includes(p.target)) }).toEqual({
        app,
        published: true,
      });
    }
  });

  it('depends_on targets exist; services needing dev-entra or kube-api files wait for them to be healthy', () => {
    for (const [name, s] of Object.entries(services)) {
      for (const dep of dependsOn(s))
        expect({ name, dep, exists: names.includes(dep) }).toEqual({ name, dep, exists: true });
      if (s.network_mode?.startsWith('service:'))
        expect(names).toContain(s.network_mode.slice('service:'.length));
      const deps = s.depends_on;
      const text = JSON.stringify([s.environment ?? {}, s.command ?? []]);
      if (text.includes('/demo/dev-entra-ca.pem') && name !== 'dev-entra') {
        expect({
          name,
          dep: (deps as Record<string, { condition: string }>)['dev-entra']?.condition,
        }).toEqual({ name, dep: 'service_healthy' });
      }
      if (text.includes('/demo/carta-forwardauth.kubeconfig') && name !== 'kube-api') {
        expect({ name, dep: (deps as Record<string, { condition: string }>)['kube-api']?.condition }).toEqual(
          { name, dep: 'service_healthy' },
        );
      }
    }
    for (const h of ['dev-entra', 'kube-api']) expect(services[h]!.healthcheck).toBeDefined();
  });

  it('every loopback URL in an environment or command points at a port something in the stack listens on', () => {
    for (const [name, s] of Object.entries(services)) {
      const values = [...Object.values(envOf(s)), ...commandOf(s)];
      for (const port of loopbackPorts(values)) {
        expect({ name, port, listened: allListenPorts.includes(port) }).toEqual({
          name,
          port,
          listened: true,
        });
      }
    }
  });

  it('volumes: named volumes are declared, bind-mounted files exist', () => {
    for (const [name, s] of Object.entries(services)) {
      for (const v of s.volumes ?? []) {
        const source = typeof v === 'string' ? v.split(':')[0]! : (v.source ?? '');
        if (source.startsWith('.') || source.startsWith('/')) {
          expect({ name, source, exists: existsSync(resolve(repoRoot, source)) }).toEqual({
            name,
            source,
            exists: true,
          });
        } else {
          expect(Object.keys(compose.volumes ?? {})).toContain(source);
        }
      }
    }
  });

  it('dev tooling commands run entry points the dev image builds (testkit and its dependency dev-entra)', () => {
    const devfile = readFileSync(join(repoRoot, 'dev/Dockerfile'), 'utf8');
    expect(devfile).toMatch(/turbo run build --filter=@auth-sidecars\/testkit /);
    expect(devfile).toMatch(/node runtime-tree\.mjs packages\/testkit \/out$/m);
    expect(devfile).toMatch(/^USER 10001:10001$/m);
    const testkitPkg = JSON.parse(readFileSync(join(repoRoot, 'packages/testkit/package.json'), 'utf8')) as {
      dependencies: Record<string, string>;
      bin: Record<string, string>;
    };
    expect(testkitPkg.dependencies['@auth-sidecars/dev-entra']).toBeDefined();
    expect(testkitPkg.bin['testkit-standin']).toBe('./dist/cli.js');
    for (const [name, s] of Object.entries(services)) {
      const cmd = commandOf(s);
      if (cmd[0] !== 'node') continue;
      expect({ name, image: s.image }).toEqual({ name, image: 'auth-sidecars/dev:local' });
      const entry = cmd[1]!;
      expect(entry).toMatch(/^packages\/(testkit|dev-entra)\/dist\/[\w-]+\.js$/);
      const source = join(repoRoot, entry.replace('/dist/', '/src/').replace(/\.js$/, '.ts'));
      expect({ name, source: existsSync(source) }).toEqual({ name, source: true });
    }
  });

  it('credentials line up with the apps dev-entra registers (client ids, certificate and federated token files, redirect URI)', () => {
    const registered = JSON.parse(readFileSync(join(repoRoot, 'dev/compose/apps.json'), 'utf8')) as Array<{
      name: string;
      clientId: string;
      clientSecret?: string;
      createCertificate?: string;
      federatedTokenPath?: string;
      redirectUris?: string[];
    }>;
    const byName = new Map(registered.map((r) => [r.name, r]));
    const entraCmd = commandOf(services['dev-entra']!);
    expect(entraCmd).toEqual(
      expect.arrayContaining(['--apps', '/config/apps.json', '--ca-file', '/demo/dev-entra-ca.pem']),
    );
    const tenant = entraCmd[entraCmd.indexOf('--tenant') + 1];
    const entraPort = listenPorts.get('dev-entra')![0];
    for (const app of ['prom-sidecar', 'openai-proxy', 'token-server', 'aks-broker'] as const) {
      const env = envOf(services[app]!);
      const reg = byName.get(app);
      expect({ app, clientId: env.AZURE_CLIENT_ID }).toEqual({ app, clientId: reg?.clientId });
      expect({
        app,
        tenant: env.AZURE_TENANT_ID,
        authority: env.AZURE_AUTHORITY_HOST,
        ca: env.NODE_EXTRA_CA_CERTS,
      }).toEqual({
        app,
        tenant,
        authority: `https://127.0.0.1:${entraPort}`,
        ca: '/demo/dev-entra-ca.pem',
      });
      if (env.AZURE_CLIENT_SECRET) expect(env.AZURE_CLIENT_SECRET).toBe(reg!.clientSecret);
      if (env.AZURE_CERTIFICATE_PATH) expect(env.AZURE_CERTIFICATE_PATH).toBe(reg!.createCertificate);
      if (env.AZURE_FEDERATED_TOKEN_FILE)
        expect(env.AZURE_FEDERATED_TOKEN_FILE).toBe(reg!.federatedTokenPath);
    }
    const broker = envOf(services['aks-broker']!);
    expect(byName.get('aks-broker')!.redirectUris).toContain(`${broker.PUBLIC_URL}/callback`);
    // The browser reaches aks-broker and dev-entra on the same host ports as the apps inside.
    const pub = published(services[netHolder]!);
    expect(pub.find((p) => p.host === Number(new URL(broker.PUBLIC_URL!).port))).toBeDefined();
    expect(pub.find((p) => p.host === entraPort)?.target).toBe(listenPorts.get('dev-entra-publish')![0]);
    expect(commandOf(services['dev-entra-publish']!)).toEqual(
      expect.arrayContaining(['tcp-forward', '--to', `127.0.0.1:${entraPort}`]),
    );
    // Redis password and kube-api files.
    const redis = commandOf(services.redis!);
    expect(broker.REDIS_URL).toBe(
      `redis://:${redis[redis.indexOf('--requirepass') + 1]}@127.0.0.1:${listenPorts.get('redis')![0]}/0`,
    );
    expect(commandOf(services['kube-api']!)).toEqual(
      expect.arrayContaining([
        '--ca-out',
        broker.KUBE_CA_FILE,
        '--kubeconfig-out',
        envOf(services['carta-forwardauth']!).KUBECONFIG,
      ]),
    );
  });

  it('Traefik asks carta-forwardauth and passes carta-auth-token on to the CARTA echo', () => {
    const dynamic = parse(readFileSync(join(repoRoot, 'dev/compose/traefik-dynamic.yml'), 'utf8')) as {
      http: {
        routers: Record<string, { middlewares: string[]; service: string; entryPoints: string[] }>;
        middlewares: Record<string, { forwardAuth?: { address: string; authResponseHeaders: string[] } }>;
        services: Record<string, { loadBalancer: { servers: Array<{ url: string }> } }>;
      };
    };
    const router = dynamic.http.routers.carta!;
    const auth = dynamic.http.middlewares[router.middlewares[0]!]!.forwardAuth!;
    expect(auth.authResponseHeaders).toContain('carta-auth-token');
    expect(new URL(auth.address).port).toBe(String(listenPorts.get('carta-forwardauth')![0]));
    const echo = dynamic.http.services[router.service]!.loadBalancer.servers[0]!.url;
    expect(new URL(echo).port).toBe(String(listenPorts.get('carta-echo')![0]));
    expect(commandOf(services['carta-echo']!)).toContain(`--port=${listenPorts.get('carta-echo')![0]}`);
    const traefikCmd = commandOf(services.traefik!);
    expect(traefikCmd).toContain(
      `--entrypoints.${router.entryPoints[0]}.address=:${listenPorts.get('traefik')![0]}`,
    );
  });

  it('Prometheus scrapes every app and is what the gate forwards to', () => {
    const prom = parse(readFileSync(join(repoRoot, 'dev/compose/prometheus.yml'), 'utf8')) as {
      scrape_configs: Array<{ job_name: string; static_configs: Array<{ targets: string[] }> }>;
    };
    const targets = new Map(prom.scrape_configs.map((c) => [c.job_name, c.static_configs[0]!.targets[0]]));
    for (const app of APPS)
      expect({ app, target: targets.get(app) }).toEqual({
        app,
        target: `127.0.0.1:${listenPorts.get(app)![0]}`,
      });
    const gate = commandOf(services['prometheus-gate']!);
    expect(gate[gate.indexOf('--upstream') + 1]).toBe(
      `http://127.0.0.1:${listenPorts.get('prometheus')![0]}`,
    );
    expect(envOf(services['prom-sidecar']!).PROMETHEUS_QUERY_ENDPOINT).toBe(
      `http://127.0.0.1:${listenPorts.get('prometheus-gate')![0]}`,
    );
    expect(envOf(services['openai-proxy']!).API_BASE_URL).toBe(
      `http://127.0.0.1:${listenPorts.get('openai-upstream')![0]}`,
    );
  });
});

describe('docker-compose.yml services run as local processes (scripts/demo.mjs --compose)', () => {
  it('their commands, environment, files and wiring work: every curl line passes against them', async () => {
    const workdir = mkdtempSync(join(tmpdir(), 'compose-local-'));
    try {
      const child = spawn(process.execPath, [join(repoRoot, 'scripts/demo.mjs'), '--compose', '--check'], {
        cwd: repoRoot,
        env: { ...process.env, DEMO_RANDOM_PORTS: '1', DEMO_WORKDIR: workdir },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      for (const s of [child.stdout, child.stderr]) s.on('data', (c: Buffer) => (out += c.toString('utf8')));
      const [code] = (await once(child, 'close')) as [number | null];
      expect({ code, out }).toEqual({ code: 0, out: expect.stringMatching(/all \d+ checks passed/) });
      // Everything with a local equivalent ran; only the pause container, Traefik and whoami need Docker.
      expect(out).toMatch(/PASS {2}dev-entra: dev-entra through dev-entra-publish/);
      const skipped = [...out.matchAll(/^ {2}(\S+) +\(skipped: needs Docker\)$/gm)].map((m) => m[1]).sort();
      expect(skipped).toEqual(['carta-echo', 'net', 'traefik']);
      for (const app of APPS) expect(out).toMatch(new RegExp(`PASS  ${app}: `));
    } finally {
      rmSync(workdir, { recursive: true, force: true });
    }
  }, 240_000);
});
