// The environment the chart writes is the one the apps read: every rendered Deployment's env, with
// its Secrets filled in, $(VAR) references expanded and what Kubernetes and the workload-identity
// webhook add, goes through the app's own config loader (apps/<app>/dist/config.js) and is accepted;
// every variable name the chart writes is one the app's code names; the chart's defaults are the app's.
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parse } from 'yaml';
import { chartDir, repoRoot } from './support/repo.js';
import {
  APPS,
  deployment,
  mainContainer,
  ofKind,
  render,
  type AppKey,
  type Deployment,
  type EnvVar,
  type Probe,
} from './support/helm.js';

type Env = Record<string, string>;
type Loader = (env: Env) => Record<string, unknown>;

type Parsed = Record<string, unknown>;

/**
 * Each app's config loader and where its parsed port and bind address live; `probePort` for an app
 * that serves /livez, /readyz and /metrics on a port of their own (the others serve them on `port`).
 */
const LOADERS: Record<
  AppKey,
  {
    fn: string;
    port: (c: Parsed) => unknown;
    host: (c: Parsed) => unknown;
    probePort?: (c: Parsed) => unknown;
  }
> = {
  promSidecar: { fn: 'loadPromSidecarConfig', port: (c) => c.port, host: (c) => c.host },
  openaiProxy: { fn: 'loadOpenAiProxyConfig', port: (c) => c.port, host: (c) => c.host },
  tokenServer: { fn: 'loadTokenServerConfig', port: (c) => c.PORT, host: (c) => c.HOST },
  cartaForwardauth: {
    fn: 'readConfig',
    port: (c) => c.PORT,
    host: (c) => c.HOST,
    probePort: (c) => c.PROBE_PORT,
  },
  aksBroker: { fn: 'loadBrokerConfig', port: (c) => c.port, host: (c) => c.host },
};

/** The port the app serves its probes on, as it parsed its env. */
const parsedProbePort = (key: AppKey, config: Parsed): unknown =>
  (LOADERS[key].probePort ?? LOADERS[key].port)(config);

/** The container port number an httpGet probe names (by port name, as the chart writes it). */
function probedPort(d: Deployment, probe: Probe | undefined): number | undefined {
  const port = probe?.httpGet?.port;
  if (typeof port === 'number') return port;
  return mainContainer(d).ports?.find((p) => p.name === port)?.containerPort;
}

async function loader(key: AppKey): Promise<Loader> {
  const url = pathToFileURL(join(repoRoot, 'apps', APPS[key], 'dist/config.js')).href;
  const mod = (await import(url)) as Record<string, Loader>;
  return mod[LOADERS[key].fn]!;
}

/** Plausible contents of the Secret entries the chart references, by key. */
function secretValue(key: string): string {
  if (key.includes('session')) return 's'.repeat(40);
  if (key.includes('cache-encryption')) return Buffer.alloc(32, 7).toString('base64');
  return 'secret-value-from-the-secret';
}

/**
 * The environment the container sees: values, Secret references filled in, $(VAR) expanded as the
 * kubelet does, plus the in-cluster variables and what the workload-identity webhook injects.
 */
function containerEnv(d: Deployment): Env {
  const env: Env = { KUBERNETES_SERVICE_HOST: '10.0.0.1', KUBERNETES_SERVICE_PORT: '443' };
  for (const e of mainContainer(d).env ?? []) {
    const raw =
      e.value ?? (e.valueFrom?.secretKeyRef ? secretValue(e.valueFrom.secretKeyRef.key) : undefined);
    if (raw === undefined) throw new Error(`${e.name}: neither value nor secretKeyRef`);
    env[e.name] = raw.replace(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (whole, name: string) => env[name] ?? whole);
  }
  if (d.spec.template.metadata.labels['azure.workload.identity/use'] === 'true') {
    env.AZURE_FEDERATED_TOKEN_FILE ??= '/var/run/secrets/azure/tokens/azure-identity-token';
    env.AZURE_AUTHORITY_HOST ??= 'https://login.microsoftonline.com/';
  }
  return env;
}

/** Every TypeScript source an app runs: its own and the workspace packages'. */
function sourcesOf(app: string): string {
  const files: string[] = [];
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.name.endsWith('.ts')) files.push(path);
    }
  };
  walk(join(repoRoot, 'apps', app, 'src'));
  for (const pkg of readdirSync(join(repoRoot, 'packages'))) walk(join(repoRoot, 'packages', pkg, 'src'));
  return files.map((f) => readFileSync(f, 'utf8')).join('\n');
}

const SCENARIOS = [
  'all-apps-values.yaml',
  'aksBroker-values.yaml',
  'aksBroker-redis-values.yaml',
  'openaiProxy-values.yaml',
  'promSidecar-values.yaml',
  'tokenServer-values.yaml',
  'cartaForwardauth-values.yaml',
];

/** Credential variants not in the ci scenarios: client secrets, clients documents, a custom authority. */
const VARIANTS = {
  azure: {
    tenantId: '00000000-0000-0000-0000-000000000001',
    clientId: '00000000-0000-0000-0000-000000000002',
    authorityHost: 'https://login.microsoftonline.us',
  },
  apps: {
    promSidecar: {
      enabled: true,
      queryEndpoint: 'https://ws.prometheus.monitor.azure.us',
      scope: 'https://prometheus.monitor.azure.us/.default',
      azure: { clientSecret: { existingSecret: 'prom-entra' } },
    },
    openaiProxy: {
      enabled: true,
      apiBaseUrl: 'https://example.openai.azure.us',
      azure: { clientSecret: { value: 'inline' } },
    },
    tokenServer: {
      enabled: true,
      clients: { existingSecret: 'ts-clients' },
      allowedScopes: ['https://vault.azure.net/.default'],
      env: { TOKEN_SERVER_WARM_SCOPES: 'https://vault.azure.net/.default' },
    },
  },
};

/** The apps' tunables set away from their defaults (over all-apps-values.yaml). */
const TUNED = {
  apps: {
    promSidecar: {
      allowStatusConfig: true,
      allowPathPrefixes: ['/api/v1/write', '/dataCollectionRules'],
      clientHeadersTimeout: '30s',
      clientMaxConnections: 64,
    },
    openaiProxy: { clientHeadersTimeout: 5000, clientMaxConnections: 2048 },
    aksBroker: {
      entraTimeoutSeconds: 2.5,
      redisTimeoutSeconds: 0.5,
      kube: { allowSubresources: ['proxy', 'portforward'], maxStreamsPerUser: 5, maxCallsPerUser: 8 },
      cli: { credentialTtlSeconds: 900, credentialsPerSession: 2 },
    },
  },
};

/**
 * Variables the chart always writes with a default of its own (values.yaml): each default must be
 * the app's, so that a chart user gets what the app's README promises.
 */
const CHART_DEFAULTS: Partial<Record<AppKey, string[]>> = {
  promSidecar: ['ALLOW_STATUS_CONFIG', 'CLIENT_HEADERS_TIMEOUT', 'CLIENT_MAX_CONNECTIONS'],
  openaiProxy: ['CLIENT_HEADERS_TIMEOUT', 'CLIENT_MAX_CONNECTIONS'],
  aksBroker: [
    'ENTRA_TIMEOUT_SECONDS',
    'REDIS_TIMEOUT_SECONDS',
    'KUBE_MAX_STREAMS_PER_USER',
    'KUBE_MAX_CALLS_PER_USER',
    'CLI_CREDENTIAL_TTL_SECONDS',
    'CLI_CREDENTIALS_PER_SESSION',
  ],
};

const cases = [
  ...SCENARIOS.map((s): [string, Array<string | object>] => [s, [s]]),
  ['client-secret and clients variants', [VARIANTS]] as [string, Array<string | object>],
  ['tunables away from their defaults', ['all-apps-values.yaml', TUNED]] as [string, Array<string | object>],
  [
    'workload identity off: the DefaultAzureCredential chain',
    [
      {
        azure: { workloadIdentity: { enabled: false } },
        apps: {
          promSidecar: { enabled: true, queryEndpoint: 'https://ws.prometheus.monitor.azure.com' },
          openaiProxy: { enabled: true, apiBaseUrl: 'https://example.openai.azure.com' },
          tokenServer: { enabled: true, sharedSecret: { existingSecret: 'ts' } },
        },
      },
    ],
  ] as [string, Array<string | object>],
];

describe("helm chart: the env it writes is the apps' config", () => {
  it.each(cases)("every Deployment's env passes its app's config loader (%s)", async (_name, sources) => {
    const deployments = ofKind<Deployment>(render(...sources), 'Deployment');
    expect(deployments.length).toBeGreaterThan(0);
    for (const d of deployments) {
      const app = d.metadata.labels!['app.kubernetes.io/name']!;
      const key = (Object.keys(APPS) as AppKey[]).find((k) => APPS[k] === app)!;
      const env = containerEnv(d);
      const load = await loader(key);
      let config: Record<string, unknown> | undefined;
      try {
        config = load(env);
      } catch (error) {
        throw new Error(`${app} refused the chart's env: ${String(error)}\n${JSON.stringify(env, null, 2)}`);
      }
      const c = mainContainer(d);
      const http = c.ports!.find((p) => p.name === 'http')!.containerPort;
      expect(LOADERS[key].port(config)).toBe(http);
      // The kubelet probes the port the app serves /livez and /readyz on (carta-forwardauth's
      // PROBE_PORT: on its http port every path is a decision, a probe there would get 403).
      for (const probe of [c.livenessProbe, c.readinessProbe, c.startupProbe]) {
        if (probe?.exec) continue; // loopback-bound: probed from inside the container (another test)
        expect({ app, probed: probedPort(d, probe) }).toEqual({ app, probed: parsedProbePort(key, config) });
      }
      // Every container port the chart declares is one the app listens on.
      expect(new Set(c.ports!.map((p) => p.containerPort))).toEqual(
        new Set([http, parsedProbePort(key, config)]),
      );
    }
  });

  it('parses what the chart means: TLS, secret files, Redis with its password, the certificate credential', async () => {
    const all = render('all-apps-values.yaml');
    const ts = (await loader('tokenServer'))(containerEnv(deployment(all, 'token-server')));
    expect(ts).toMatchObject({
      HOST: '0.0.0.0',
      TLS_CERT_PATH: '/var/run/secrets/auth-sidecars/tls/tls.crt',
      AZD_AUTH_SECRET_FILE: '/var/run/secrets/auth-sidecars/shared-secret/secret',
      TOKEN_SERVER_CLIENTS_FILE: '/var/run/secrets/auth-sidecars/clients/clients.json',
      TOKEN_SERVER_ALLOWED_SCOPES: [
        'https://vault.azure.net/.default',
        'https://*.blob.core.windows.net/.default',
      ],
    });
    const broker = (await loader('aksBroker'))(containerEnv(deployment(all, 'aks-broker'))) as {
      redis: { url: string };
      kube: { caFile: string; apiUrl: string };
    };
    expect(broker.redis.url).toBe('redis://:secret-value-from-the-secret@redis.auth.svc:6379/0');
    expect(broker.kube).toMatchObject({
      caFile: '/var/run/secrets/auth-sidecars/kube-ca/ca.crt',
      apiUrl: 'https://10.0.0.1:443',
    });
    const openai = (await loader('openaiProxy'))(containerEnv(deployment(all, 'openai-proxy'))) as {
      credential: { kind: string; certificatePath: string };
    };
    expect(openai.credential).toMatchObject({
      kind: 'certificate',
      certificatePath: '/var/run/secrets/auth-sidecars/certificate/cert.pem',
    });
    const prom = (await loader('promSidecar'))(containerEnv(deployment(all, 'prom-sidecar'))) as {
      credential: { kind: string; clientId: string };
    };
    expect(prom.credential).toMatchObject({
      kind: 'workload-identity',
      clientId: '00000000-0000-0000-0000-0000000000a1',
    });
    const secretProm = (await loader('promSidecar'))(
      containerEnv(deployment(render(VARIANTS), 'prom-sidecar')),
    ) as {
      credential: { kind: string; authorityHost: string };
      scope: string;
    };
    expect(secretProm.credential).toMatchObject({
      kind: 'client-secret',
      authorityHost: 'https://login.microsoftonline.us',
    });
    expect(secretProm.scope).toBe('https://prometheus.monitor.azure.us/.default');
    // openai-proxy runs only on the credential the chart names: without a certificate, the one the
    // user chose (here the DefaultAzureCredential chain), never a silent fall-back.
    const chain = (await loader('openaiProxy'))(
      containerEnv(deployment(render(...cases.at(-1)![1]), 'openai-proxy')),
    ) as { credential: { kind: string } };
    expect(chain.credential.kind).toBe('default');
  });

  it('parses the tunables as set: proxy client limits, prom-sidecar paths, aks-broker caps and deadlines', async () => {
    const tuned = render('all-apps-values.yaml', TUNED);
    const prom = (await loader('promSidecar'))(containerEnv(deployment(tuned, 'prom-sidecar')));
    expect(prom).toMatchObject({
      allowStatusConfig: true,
      allowPathPrefixes: ['/api/v1/write', '/dataCollectionRules'],
      clientHeadersTimeoutMs: 30_000,
      clientMaxConnections: 64,
    });
    const openai = (await loader('openaiProxy'))(containerEnv(deployment(tuned, 'openai-proxy')));
    expect(openai).toMatchObject({ clientHeadersTimeoutMs: 5_000, clientMaxConnections: 2048 });
    const broker = (await loader('aksBroker'))(containerEnv(deployment(tuned, 'aks-broker')));
    expect(broker).toMatchObject({
      entra: { timeoutMs: 2_500 },
      redis: { timeoutMs: 500 },
      kube: { allowedSubresources: ['proxy', 'portforward'], maxStreamsPerUser: 5, maxCallsPerUser: 8 },
      cli: { maxTtlMs: 900_000, perSession: 2 },
    });
  });

  it.each(Object.keys(CHART_DEFAULTS) as AppKey[])(
    "%s: the chart's defaults of the app's tunables are the app's own",
    async (key) => {
      const env = containerEnv(deployment(render('all-apps-values.yaml'), APPS[key]));
      const load = await loader(key);
      const withChart = load(env);
      for (const name of CHART_DEFAULTS[key]!) {
        expect({ name, written: name in env }).toEqual({ name, written: true });
        const without = { ...env };
        delete without[name];
        expect({ name, config: withChart }).toEqual({ name, config: load(without) });
      }
    },
  );

  it.each(Object.keys(APPS) as AppKey[])(
    'every variable the chart writes for %s is one its code reads',
    (key) => {
      const app = APPS[key];
      const sources = sourcesOf(app);
      const names = new Set<string>();
      for (const d of [...cases.flatMap(([, s]) => ofKind<Deployment>(render(...s), 'Deployment'))]) {
        if (d.metadata.labels!['app.kubernetes.io/name'] !== app) continue;
        for (const e of mainContainer(d).env ?? ([] as EnvVar[])) names.add(e.name);
      }
      expect(names.size).toBeGreaterThan(2);
      for (const name of names) {
        // REDIS_PASSWORD is the chart's own: Kubernetes expands it into REDIS_URL before the app starts.
        if (name === 'REDIS_PASSWORD') continue;
        expect({ name, read: new RegExp(`['"\`]${name}['"\`]|\\b${name}:`).test(sources) }).toEqual({
          name,
          read: true,
        });
      }
    },
  );

  it.each(Object.keys(APPS) as AppKey[])(
    "%s: the chart's default port (and bind address) are the app's own",
    async (key) => {
      const values = parse(readFileSync(join(chartDir, 'values.yaml'), 'utf8')) as {
        apps: Record<AppKey, { port: number; probePort?: number }>;
      };
      const d = deployment(render(...cases.at(-2)![1], 'all-apps-values.yaml'), APPS[key]);
      const env = containerEnv(d);
      delete env.PORT;
      delete env.PROBE_PORT;
      const config = (await loader(key))(env);
      expect(LOADERS[key].port(config)).toBe(values.apps[key].port);
      // An app with a probe port of its own has the chart's default for it; the others have none.
      expect(values.apps[key].probePort).toBe(LOADERS[key].probePort?.(config));
      if (key === 'tokenServer') {
        // With the chart's HOST removed, the app falls back to loopback, as the chart does without TLS.
        delete env.HOST;
        expect(LOADERS[key].host((await loader(key))(env))).toBe('127.0.0.1');
      }
    },
  );
});
