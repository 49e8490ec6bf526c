// The chart lints, every scenario renders objects valid against the Kubernetes schemas (and the
// Prometheus Operator and Traefik CRD schemas), and the cases that broke in ordinary setups render right.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseAllDocuments, stringify } from 'yaml';
import { chartDir, type Manifest } from './support/repo.js';
import {
  ALL_APPS_MINIMAL,
  APPS,
  AZURE,
  deployment,
  envMap,
  forApp,
  helm,
  helmTemplate,
  mainContainer,
  notes,
  ofKind,
  render,
  renderError,
  type Container,
  type Deployment,
} from './support/helm.js';

const scenarioFiles = readdirSync(join(chartDir, 'ci')).filter((f) => f.endsWith('-values.yaml'));
const scenarios: Array<[string, string[]]> = [
  ['default values', []],
  ...scenarioFiles.map((f): [string, string[]] => [f, ['-f', join(chartDir, 'ci', f)]]),
  [
    'all-apps-values.yaml on Kubernetes 1.29',
    ['-f', join(chartDir, 'ci/all-apps-values.yaml'), '--kube-version', '1.29.0'],
  ],
];

type ModelClass = new (data: unknown) => { validate(): void };

/** Schema class for a manifest: kubernetes-models for the core API, the CRD model packages for the rest. */
async function modelFor(m: Manifest): Promise<ModelClass> {
  const group = m.apiVersion.includes('/') ? m.apiVersion.split('/')[0]! : '';
  const modulePath =
    group === 'monitoring.coreos.com'
      ? `@kubernetes-models/prometheus-operator/${m.apiVersion}/${m.kind}`
      : group === 'traefik.io'
        ? `@kubernetes-models/traefik/${m.apiVersion}/${m.kind}`
        : `kubernetes-models/${m.apiVersion}/${m.kind}`;
  const mod = (await import(modulePath)) as Record<string, ModelClass>;
  const model = mod[m.kind];
  if (!model) throw new Error(`no model class for ${m.apiVersion} ${m.kind}`);
  return model;
}

describe('helm chart: lint and schemas', () => {
  it.each(scenarios)('lints cleanly with %s', (_name, args) => {
    const out = execFileSync(helm, ['lint', chartDir, '--strict', ...args], { encoding: 'utf8' });
    expect(out).toContain('0 chart(s) failed');
    expect(out).not.toMatch(/\[(WARNING|INFO)\]/);
  });

  it('renders nothing with the default values: every app is off until enabled', () => {
    expect(helmTemplate([])).toEqual([]);
  });

  it.each(scenarios.slice(1))('renders objects valid against their schemas with %s', async (_name, args) => {
    const manifests = helmTemplate(args);
    expect(manifests.length).toBeGreaterThan(0);
    for (const m of manifests) {
      const Model = await modelFor(m);
      expect(() => new Model(m).validate()).not.toThrow();
    }
  });

  it('rejects a mistyped key or a value of the wrong shape at install time', () => {
    const fail = (args: string[]) => () => helmTemplate(args);
    expect(fail(['--set', 'apps.unknownApp.enabled=true'])).toThrow(/additional properties 'unknownApp'/);
    expect(fail(['--set', 'apps.openaiProxy.replica=2'])).toThrow(/additional properties 'replica'/);
    expect(fail(['--set', 'apps.openaiProxy.image.digest=latest'])).toThrow(/digest/);
    expect(fail(['--set', 'apps.aksBroker.redisUrl=http://redis'])).toThrow(/redisUrl/);
  });
});

describe('helm chart: what broke in ordinary setups', () => {
  it('token-server with TLS is probed over HTTPS (it serves nothing else), and so is everything that reaches it', () => {
    const manifests = render('all-apps-values.yaml');
    const c = mainContainer(deployment(manifests, 'token-server'));
    for (const probe of [c.livenessProbe, c.readinessProbe, c.startupProbe]) {
      expect(probe?.httpGet?.scheme).toBe('HTTPS');
    }
    expect(envMap(c).get('TLS_CERT_PATH')?.value).toBe('/var/run/secrets/auth-sidecars/tls/tls.crt');
    expect(envMap(c).get('HOST')?.value).toBe('0.0.0.0');
    // The helm test pod and the scrape configs speak HTTPS to it as well.
    const testPod = ofKind(manifests, 'Pod').find((p) =>
      p.metadata.name.endsWith('token-server-test'),
    ) as unknown as {
      spec: { containers: Container[] };
    };
    expect(testPod.spec.containers[0]!.command!.at(-2)).toMatch(
      /^https:\/\/.*token-server\.auth\.svc:8080\/readyz$/,
    );
    const monitor = ofKind(manifests, 'ServiceMonitor').find((m) =>
      m.metadata.name.endsWith('token-server'),
    ) as unknown as {
      spec: { endpoints: Array<{ scheme: string }> };
    };
    expect(monitor.spec.endpoints[0]!.scheme).toBe('https');
    // The other apps keep plain HTTP probes.
    expect(mainContainer(deployment(manifests, 'openai-proxy')).readinessProbe?.httpGet?.scheme).toBe('HTTP');
  });

  it('works as a subchart: an umbrella chart with `global` set renders it', () => {
    const umbrella = mkdtempSync(join(tmpdir(), 'umbrella-'));
    const version = (
      parseAllDocuments(readFileSync(join(chartDir, 'Chart.yaml'), 'utf8'))[0]!.toJS() as {
        version: string;
      }
    ).version;
    writeFileSync(
      join(umbrella, 'Chart.yaml'),
      stringify({
        apiVersion: 'v2',
        name: 'platform',
        version: '1.0.0',
        dependencies: [{ name: 'auth-sidecars', version, repository: `file://${chartDir}` }],
      }),
    );
    writeFileSync(
      join(umbrella, 'values.yaml'),
      stringify({
        global: {
          imageRegistry: 'registry.internal.example/mirror',
          imagePullSecrets: ['umbrella-pull'],
          team: 'x',
        },
        'auth-sidecars': {
          ...AZURE,
          imagePullSecrets: [{ name: 'chart-pull' }],
          apps: { openaiProxy: { enabled: true, apiBaseUrl: 'https://example.openai.azure.com' } },
        },
      }),
    );
    mkdirSync(join(umbrella, 'templates'));
    writeFileSync(
      join(umbrella, 'templates/configmap.yaml'),
      'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-settings\ndata:\n  team: {{ .Values.global.team }}\n',
    );
    execFileSync(helm, ['dependency', 'build', umbrella], { encoding: 'utf8', stdio: 'pipe' });
    execFileSync(helm, ['lint', umbrella, '--strict'], { encoding: 'utf8', stdio: 'pipe' });
    const manifests = helmTemplate([], 'platform', umbrella);
    const d = deployment(manifests, 'openai-proxy');
    expect(d.metadata.name).toBe('platform-auth-sidecars-openai-proxy');
    // global.imageRegistry and global.imagePullSecrets reach the subchart's pods.
    expect(mainContainer(d).image).toBe('registry.internal.example/mirror/openai-proxy:0.1.0');
    expect(d.spec.template.spec.imagePullSecrets).toEqual([
      { name: 'umbrella-pull' },
      { name: 'chart-pull' },
    ]);
    // The umbrella's own template renders next to it.
    expect(manifests.some((m) => m.kind === 'ConfigMap' && m.metadata.name === 'platform-settings')).toBe(
      true,
    );
  });

  it('keeps every object name distinct and within 63 characters with a 49-character release name', () => {
    const release = 'a'.repeat(40) + '-platform';
    expect(release).toHaveLength(49);
    const manifests = helmTemplate(['-f', join(chartDir, 'ci/all-apps-values.yaml')], release);
    expect(manifests.length).toBeGreaterThanOrEqual(21);
    const byKind = new Map<string, string[]>();
    for (const m of manifests) {
      expect(m.metadata.name.length).toBeLessThanOrEqual(63);
      expect(m.metadata.name).toMatch(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/);
      byKind.set(m.kind, [...(byKind.get(m.kind) ?? []), m.metadata.name]);
    }
    for (const names of byKind.values()) expect(new Set(names).size).toBe(names.length);
    // The app suffix survives the cut.
    for (const app of Object.values(APPS)) {
      expect(deployment(manifests, app).metadata.name).toMatch(new RegExp(`-${app}$`));
    }
  });

  it('honours nameOverride and fullnameOverride', () => {
    const named = render('promSidecar-values.yaml', { nameOverride: 'entra' });
    expect(deployment(named, 'prom-sidecar').metadata.name).toBe('release-entra-prom-sidecar');
    const full = render('promSidecar-values.yaml', { fullnameOverride: 'x'.repeat(63) });
    const name = deployment(full, 'prom-sidecar').metadata.name;
    expect(name).toBe(`${'x'.repeat(50)}-prom-sidecar`);
    expect(name).toHaveLength(63);
  });

  it("merges the user's env over the chart's: a variable the chart sets is written once, with the user's value", () => {
    const manifests = render('all-apps-values.yaml', {
      apps: {
        tokenServer: { env: { HOST: '10.0.0.1', PORT: 9000, AZURE_CLIENT_ID: 'override', EXTRA: true } },
        aksBroker: {
          env: { REDIS_PASSWORD: { valueFrom: { secretKeyRef: { name: 'other', key: 'pw' } } } },
        },
      },
    });
    for (const d of ofKind<Deployment>(manifests, 'Deployment')) {
      const names = (mainContainer(d).env ?? []).map((e) => e.name);
      expect(names).toEqual([...new Set(names)]);
    }
    const ts = envMap(mainContainer(deployment(manifests, 'token-server')));
    expect(ts.get('HOST')?.value).toBe('10.0.0.1');
    expect(ts.get('PORT')?.value).toBe('9000');
    expect(ts.get('AZURE_CLIENT_ID')?.value).toBe('override');
    expect(ts.get('EXTRA')?.value).toBe('true');
    // A user's valueFrom replaces the chart's entry in place, so $(REDIS_PASSWORD) still comes first.
    const broker = mainContainer(deployment(manifests, 'aks-broker')).env!.map((e) => e.name);
    expect(broker.indexOf('REDIS_PASSWORD')).toBeLessThan(broker.indexOf('REDIS_URL'));
    expect(
      envMap(mainContainer(deployment(manifests, 'aks-broker'))).get('REDIS_PASSWORD')?.valueFrom,
    ).toEqual({
      secretKeyRef: { name: 'other', key: 'pw' },
    });
  });

  it("README's native-sidecar snippet waits for /readyz with a startupProbe and carries the chart's full securityContext", async () => {
    const readme = readFileSync(join(chartDir, 'README.md'), 'utf8');
    const snippet = /## Sidecar snippets[\s\S]*?```yaml\n([\s\S]*?)```/.exec(readme)?.[1];
    expect(snippet).toBeDefined();
    const { Pod } = await import('kubernetes-models/v1/Pod');
    type PodData = ConstructorParameters<typeof Pod>[0];
    const spec = parseAllDocuments(snippet!)[0]!.toJS() as { spec: NonNullable<PodData>['spec'] };
    const pod = new Pod({ metadata: { name: 'my-app' }, spec: spec.spec });
    expect(() => pod.validate()).not.toThrow();
    const sidecar = pod.spec!.initContainers![0]!;
    expect(sidecar.restartPolicy).toBe('Always');
    // A native sidecar holds the app back only until its startupProbe passes: that probe asks /readyz,
    // on the loopback address and port the sidecar listens on (the kubelet's httpGet cannot reach it).
    const env = new Map((sidecar.env ?? []).map((e) => [e.name, e.value]));
    expect(env.get('HOST')).toBe('127.0.0.1');
    const probeCommand = sidecar.startupProbe?.exec?.command?.join(' ') ?? '';
    expect(probeCommand).toContain(`http://127.0.0.1:${env.get('PORT')}/readyz`);
    expect(probeCommand).toMatch(/process\.exit\(r\.ok \? 0 : 1\)/);
    const startup = sidecar.startupProbe ?? {};
    expect((startup.failureThreshold ?? 3) * (startup.periodSeconds ?? 10)).toBeGreaterThanOrEqual(60);
    const values = parseAllDocuments(readFileSync(join(chartDir, 'values.yaml'), 'utf8'))[0]!.toJS() as {
      securityContext: Record<string, unknown>;
      podSecurityContext: Record<string, unknown>;
    };
    expect(sidecar.securityContext).toEqual(
      expect.objectContaining({
        ...values.securityContext,
        runAsNonRoot: true,
        runAsUser: values.podSecurityContext.runAsUser,
        seccompProfile: { type: 'RuntimeDefault' },
      }),
    );
    // The snippet's variables are the ones the chart writes for the same app.
    const chartEnv = envMap(mainContainer(deployment(render('openaiProxy-values.yaml'), 'openai-proxy')));
    for (const e of sidecar.env ?? []) {
      if (e.name !== 'HOST') expect(chartEnv.has(e.name)).toBe(true);
    }
  });
});

describe('helm chart: issue 13 and 14 hardening', () => {
  it('refuses aks-broker with several replicas and no Redis, saying what to set', () => {
    const base = { ...AZURE, apps: { aksBroker: { ...ALL_APPS_MINIMAL.apps.aksBroker } } };
    const error = (() => {
      try {
        render(base, { apps: { aksBroker: { replicas: 2 } } });
      } catch (e) {
        return String((e as { stderr?: string }).stderr);
      }
      return '';
    })();
    expect(error).toMatch(/apps\.aksBroker\.replicas is 2 but apps\.aksBroker\.redisUrl is empty/);
    expect(error).toMatch(/Set apps\.aksBroker\.redisUrl .* or set apps\.aksBroker\.replicas=1/);
    // The working pairs the ci scenarios show.
    expect(deployment(render('aksBroker-values.yaml'), 'aks-broker').spec.replicas).toBe(1);
    const ha = render('aksBroker-redis-values.yaml');
    expect(deployment(ha, 'aks-broker').spec.replicas).toBe(2);
    expect(envMap(mainContainer(deployment(ha, 'aks-broker'))).get('REDIS_URL')?.value).toBe(
      'rediss://:$(REDIS_PASSWORD)@redis.example.com:6380',
    );
  });

  it('gives the two proxies and token-server a NetworkPolicy by default that admits only their port', () => {
    const manifests = render(ALL_APPS_MINIMAL);
    const policies = ofKind(manifests, 'NetworkPolicy');
    expect(policies.map((p) => p.metadata.labels?.['app.kubernetes.io/name']).sort()).toEqual([
      'openai-proxy',
      'prom-sidecar',
      'token-server',
    ]);
    for (const app of ['openai-proxy', 'prom-sidecar']) {
      const spec = policy(manifests, app);
      expect(spec.policyTypes).toEqual(['Ingress', 'Egress']);
      expect(spec.ingress).toEqual([{ ports: [{ port: 'http', protocol: 'TCP' }] }]);
    }
    // token-server on loopback: nothing outside its pod gets in.
    expect(policy(manifests, 'token-server').ingress).toEqual([]);
  });

  it('lets out what the apps need: DNS, the identity provider, the upstream, the Kubernetes API, Redis', () => {
    const manifests = render(ALL_APPS_MINIMAL, {
      azure: { authorityHost: 'https://login.example.org:8443' },
      networkPolicy: { kubeApi: { cidrs: ['10.0.0.1/32'] } },
      apps: {
        promSidecar: { queryEndpoint: 'http://prometheus.internal:9090' },
        cartaForwardauth: { networkPolicy: { enabled: true } },
        aksBroker: {
          networkPolicy: { enabled: true },
          redisUrl: 'redis://redis:6390',
          secrets: { existingSecret: 'broker' },
          replicas: 2,
        },
      },
    });
    const dns = [
      { port: 53, protocol: 'UDP' },
      { port: 53, protocol: 'TCP' },
    ];
    const egressPorts = (app: string) =>
      policy(manifests, app).egress.map((rule) => ({ ports: rule.ports, to: rule.to }));
    expect(egressPorts('prom-sidecar')).toEqual([
      { ports: dns, to: undefined },
      {
        ports: [
          { port: 443, protocol: 'TCP' },
          { port: 8443, protocol: 'TCP' },
          { port: 9090, protocol: 'TCP' },
        ],
        to: undefined,
      },
    ]);
    expect(egressPorts('openai-proxy')[1]!.ports).toEqual([
      { port: 443, protocol: 'TCP' },
      { port: 8443, protocol: 'TCP' },
    ]);
    const kubeApi = {
      ports: [
        { port: 443, protocol: 'TCP' },
        { port: 6443, protocol: 'TCP' },
      ],
      to: [{ ipBlock: { cidr: '10.0.0.1/32' } }],
    };
    // carta-forwardauth holds no Entra credential: DNS and the Kubernetes API only.
    expect(egressPorts('carta-forwardauth')).toEqual([{ ports: dns, to: undefined }, kubeApi]);
    expect(egressPorts('aks-broker')).toEqual([
      { ports: dns, to: undefined },
      {
        ports: [
          { port: 443, protocol: 'TCP' },
          { port: 8443, protocol: 'TCP' },
        ],
        to: undefined,
      },
      kubeApi,
      { ports: [{ port: 6390, protocol: 'TCP' }], to: undefined },
    ]);
    // A managed-identity credential reaches the instance metadata endpoint, and nothing else does.
    const mi = render(ALL_APPS_MINIMAL, {
      azure: { workloadIdentity: { enabled: false } },
      apps: { aksBroker: { enabled: false } },
    });
    const imds = {
      to: [{ ipBlock: { cidr: '169.254.169.254/32' } }],
      ports: [{ port: 80, protocol: 'TCP' }],
    };
    expect(policy(manifests, 'prom-sidecar').egress).not.toContainEqual(imds);
    expect(policy(mi, 'prom-sidecar').egress).toContainEqual(imds);
  });

  it('admits only the listed peers when ingressFrom is set, plus Prometheus and the helm test pods', () => {
    const ingress = policy(render('all-apps-values.yaml'), 'openai-proxy').ingress;
    expect(ingress).toHaveLength(2);
    expect(ingress[0]!.from).toEqual([
      { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'ingress' } } },
      {
        podSelector: {
          matchLabels: {
            'app.kubernetes.io/component': 'helm-test',
            'app.kubernetes.io/instance': 'release',
          },
        },
      },
    ]);
    expect(ingress[1]!.from).toEqual([
      { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } } },
    ]);
  });

  it('sleeps before SIGTERM so connections arriving while endpoints update are served: the sleep action from 1.30, the sleep binary before', () => {
    for (const d of ofKind<Deployment>(render('all-apps-values.yaml'), 'Deployment')) {
      expect(mainContainer(d).lifecycle?.preStop).toEqual({ sleep: { seconds: 5 } });
      // The sleep and the app's own drain (up to 30 s) fit in the grace period.
      expect(d.spec.template.spec.terminationGracePeriodSeconds).toBeGreaterThanOrEqual(35);
    }
    const old = helmTemplate(['-f', join(chartDir, 'ci/all-apps-values.yaml'), '--kube-version', '1.29.0']);
    for (const d of ofKind<Deployment>(old, 'Deployment')) {
      expect(mainContainer(d).lifecycle?.preStop).toEqual({ exec: { command: ['sleep', '5'] } });
    }
    const off = render('promSidecar-values.yaml', { preStop: { sleepSeconds: 0 } });
    expect(mainContainer(deployment(off, 'prom-sidecar')).lifecycle).toBeUndefined();
  });
});

describe("helm chart: carta-forwardauth's probe port (on its http port every path is a decision)", () => {
  interface ServiceSpec {
    ports: Array<{ name: string; port: number; targetPort: string | number }>;
  }
  interface Endpoint {
    port: string;
    path: string;
  }
  const carta = (manifests: Manifest[]) => mainContainer(deployment(manifests, 'carta-forwardauth'));
  const containerPort = (c: Container, name: string) => c.ports?.find((p) => p.name === name)?.containerPort;
  const servicePorts = (manifests: Manifest[]) =>
    (forApp(manifests, 'Service', 'carta-forwardauth') as unknown as { spec: ServiceSpec }).spec.ports;
  const testUrl = (manifests: Manifest[]) =>
    (
      ofKind(manifests, 'Pod').find((p) => p.metadata.name.endsWith('carta-forwardauth-test')) as unknown as {
        spec: { containers: Container[] };
      }
    ).spec.containers[0]!.command!.at(-2);

  it.each([
    ['the default', {}, 8001],
    ['a chosen probePort', { apps: { cartaForwardauth: { probePort: 9102 } } }, 9102],
  ])(
    'probes, PROBE_PORT, the Service, the test pod and both monitors all use the probe port (%s)',
    (_name, values, probePort) => {
      const manifests = render('all-apps-values.yaml', values);
      const c = carta(manifests);
      expect(c.ports).toEqual([
        { name: 'http', containerPort: 8000, protocol: 'TCP' },
        { name: 'probes', containerPort: probePort, protocol: 'TCP' },
      ]);
      expect(envMap(c).get('PROBE_PORT')?.value).toBe(String(probePort));
      expect(envMap(c).get('PORT')?.value).toBe('8000');
      for (const [probe, path] of [
        [c.livenessProbe, '/livez'],
        [c.readinessProbe, '/readyz'],
        [c.startupProbe, '/livez'],
      ] as const) {
        expect(probe?.httpGet).toEqual({ path, port: 'probes', scheme: 'HTTP' });
      }
      // The Service carries both: the decisions on http, the probe port for the test pod and a ServiceMonitor.
      expect(servicePorts(manifests)).toEqual([
        { name: 'http', port: 8000, targetPort: 'http', protocol: 'TCP' },
        { name: 'probes', port: probePort, targetPort: 'probes', protocol: 'TCP' },
      ]);
      expect(testUrl(manifests)).toBe(
        `http://release-auth-sidecars-carta-forwardauth.auth.svc:${probePort}/readyz`,
      );
      // A ServiceMonitor names a Service port, a PodMonitor a container port: both lead to the probe port.
      const sm = forApp(manifests, 'ServiceMonitor', 'carta-forwardauth') as unknown as {
        spec: { endpoints: Endpoint[] };
      };
      const smPort = servicePorts(manifests).find((p) => p.name === sm.spec.endpoints[0]!.port)!;
      expect(containerPort(c, String(smPort.targetPort))).toBe(probePort);
      expect(sm.spec.endpoints[0]!.path).toBe('/metrics');
      const pm = forApp(manifests, 'PodMonitor', 'carta-forwardauth') as unknown as {
        spec: { podMetricsEndpoints: Endpoint[] };
      };
      expect(containerPort(c, pm.spec.podMetricsEndpoints[0]!.port)).toBe(probePort);
      expect(pm.spec.podMetricsEndpoints[0]!.path).toBe('/metrics');
      // The forward-auth addresses stay on the decision port.
      const middleware = ofKind(manifests, 'Middleware')[0] as unknown as {
        spec: { forwardAuth: { address: string } };
      };
      expect(middleware.spec.forwardAuth.address).toBe(
        'http://release-auth-sidecars-carta-forwardauth.auth.svc:8000/',
      );
    },
  );

  it('keeps the other apps on their one http port', () => {
    const manifests = render('all-apps-values.yaml');
    for (const app of ['prom-sidecar', 'openai-proxy', 'token-server', 'aks-broker']) {
      const c = mainContainer(deployment(manifests, app));
      expect(c.ports?.map((p) => p.name)).toEqual(['http']);
      expect(c.readinessProbe?.httpGet?.port).toBe('http');
      expect(envMap(c).has('PROBE_PORT')).toBe(false);
    }
  });

  it('bound to loopback, it is probed from inside the container on the probe port', () => {
    const c = carta(render({ apps: { cartaForwardauth: { enabled: true, env: { HOST: '127.0.0.1' } } } }));
    expect(c.livenessProbe?.exec?.command[2]).toMatch(/^fetch\('http:\/\/127\.0\.0\.1:8001\/livez'\)/);
    expect(c.readinessProbe?.exec?.command[2]).toMatch(/^fetch\('http:\/\/127\.0\.0\.1:8001\/readyz'\)/);
  });

  it('admits Prometheus and the helm test pods to the probe port, and the ingress peers to the decision port only', () => {
    const ingress = policy(render('all-apps-values.yaml'), 'carta-forwardauth').ingress;
    const testPods = {
      podSelector: {
        matchLabels: { 'app.kubernetes.io/component': 'helm-test', 'app.kubernetes.io/instance': 'release' },
      },
    };
    expect(ingress).toEqual([
      {
        ports: [{ port: 'http', protocol: 'TCP' }],
        from: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'ingress' } } }],
      },
      {
        ports: [{ port: 'probes', protocol: 'TCP' }],
        from: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } } }],
      },
      { ports: [{ port: 'probes', protocol: 'TCP' }], from: [testPods] },
    ]);
    // Without ingressFrom both ports are open, as the http port of every app is.
    const open = policy(
      render({ apps: { cartaForwardauth: { enabled: true, networkPolicy: { enabled: true } } } }),
      'carta-forwardauth',
    ).ingress;
    expect(open).toEqual([
      {
        ports: [
          { port: 'http', protocol: 'TCP' },
          { port: 'probes', protocol: 'TCP' },
        ],
      },
    ]);
    // With nobody to admit to it, no rule names the probe port: a rule without `from` would admit everyone.
    // (The kubelet's probes come from the pod's own node, which a NetworkPolicy does not block.)
    const closed = policy(
      render('all-apps-values.yaml', { networkPolicy: { metricsFrom: [] }, tests: { enabled: false } }),
      'carta-forwardauth',
    ).ingress;
    expect(closed).toEqual([ingress[0]]);
  });

  it('refuses a probe port that is missing, equal to the decision port, or set around it in env', () => {
    const base = { apps: { cartaForwardauth: { enabled: true } } };
    expect(renderError(base, { apps: { cartaForwardauth: { probePort: 8000 } } })).toMatch(
      /apps\.cartaForwardauth\.probePort must differ from apps\.cartaForwardauth\.port \(8000\)/,
    );
    expect(renderError(base, { apps: { cartaForwardauth: { probePort: null } } })).toMatch(
      /apps\.cartaForwardauth\.probePort is required/,
    );
    expect(renderError(base, { apps: { cartaForwardauth: { env: { PROBE_PORT: 'off' } } } })).toMatch(
      /apps\.cartaForwardauth\.env\.PROBE_PORT: set apps\.cartaForwardauth\.probePort instead/,
    );
    expect(renderError(base, { apps: { cartaForwardauth: { probePort: 'x' } } })).toMatch(/probePort/);
    expect(renderError(base, { apps: { promSidecar: { probePort: 9000 } } })).toMatch(
      /additional properties 'probePort'/,
    );
  });

  it('NOTES.txt gives the decision URL and the probe URL apart', () => {
    const text = notes('cartaForwardauth-values.yaml');
    expect(text).toContain(
      'http://release-auth-sidecars-carta-forwardauth.auth.svc:8000  (every method and path is a ForwardAuth decision)',
    );
    expect(text).toContain(
      'http://release-auth-sidecars-carta-forwardauth.auth.svc:8001  (probes /livez /readyz, metrics /metrics)',
    );
    expect(text).toContain(
      'nginx.ingress.kubernetes.io/auth-url: "http://release-auth-sidecars-carta-forwardauth.auth.svc:8000/"',
    );
  });
});

interface PolicySpec {
  policyTypes: string[];
  ingress: Array<{ ports?: unknown[]; from?: unknown[] }>;
  egress: Array<{ ports?: unknown[]; to?: unknown[] }>;
}

function policy(manifests: Manifest[], app: string): PolicySpec {
  const p = ofKind(manifests, 'NetworkPolicy').find(
    (m) => m.metadata.labels?.['app.kubernetes.io/name'] === app,
  );
  if (!p) throw new Error(`no NetworkPolicy for ${app}`);
  return (p as unknown as { spec: PolicySpec }).spec;
}
