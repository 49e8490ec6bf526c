// The extension points platform engineers know from the charts they already run, each rendered and
// read back: monitoring, the broker's Ingress, forward-auth wiring, per-app knobs, HPA, helm test,
// NOTES.txt and Chart.yaml.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { chartDir, repoRoot, type Manifest } from './support/repo.js';
import {
  ALL_APPS_MINIMAL,
  APPS,
  deployment,
  forApp,
  hasApp,
  helm,
  helmTemplate,
  mainContainer,
  notes,
  ofKind,
  render,
  renderError,
  type AppKey,
  type Container,
} from './support/helm.js';

const APP_KEYS = Object.keys(APPS) as AppKey[];
/** Every app reachable over its Service (token-server with TLS). */
const REACHABLE = {
  ...ALL_APPS_MINIMAL,
  apps: {
    ...ALL_APPS_MINIMAL.apps,
    tokenServer: { ...ALL_APPS_MINIMAL.apps.tokenServer, tls: { existingSecret: 'ts-tls' } },
  },
};

interface MonitorSpec {
  selector: { matchLabels: Record<string, string> };
  endpoints?: Array<Record<string, unknown>>;
  podMetricsEndpoints?: Array<Record<string, unknown>>;
}

describe('helm chart: Prometheus Operator and Grafana', () => {
  it('renders no monitor objects unless asked (the CRDs may not exist)', () => {
    const manifests = render(REACHABLE);
    expect(ofKind(manifests, 'ServiceMonitor')).toHaveLength(0);
    expect(ofKind(manifests, 'PodMonitor')).toHaveLength(0);
    expect(ofKind(manifests, 'ConfigMap')).toHaveLength(0);
  });

  it("a ServiceMonitor per app selects that app's Service and scrapes /metrics on a port the Service has", () => {
    const manifests = render(REACHABLE, {
      metrics: {
        serviceMonitor: { enabled: true, interval: '15s', scrapeTimeout: '10s', labels: { release: 'kps' } },
      },
    });
    const monitors = ofKind(manifests, 'ServiceMonitor');
    expect(monitors).toHaveLength(5);
    for (const app of Object.values(APPS)) {
      const m = forApp(manifests, 'ServiceMonitor', app);
      expect(m.metadata.labels?.release).toBe('kps');
      const spec = (m as unknown as { spec: MonitorSpec }).spec;
      const service = forApp(manifests, 'Service', app) as unknown as {
        metadata: { labels: Record<string, string> };
        spec: { ports: Array<{ name: string }> };
      };
      for (const [k, v] of Object.entries(spec.selector.matchLabels))
        expect(service.metadata.labels[k]).toBe(v);
      // Selects this app's Service only.
      expect(spec.selector.matchLabels['app.kubernetes.io/name']).toBe(app);
      const endpoint = spec.endpoints![0]!;
      expect(service.spec.ports.map((p) => p.name)).toContain(endpoint.port);
      expect(endpoint).toMatchObject({ path: '/metrics', interval: '15s', scrapeTimeout: '10s' });
      expect(endpoint.scheme).toBe(app === 'token-server' ? 'https' : 'http');
    }
  });

  it("a PodMonitor per app selects that app's pods and scrapes /metrics on a named container port", () => {
    const manifests = render(REACHABLE, { metrics: { podMonitor: { enabled: true } } });
    expect(ofKind(manifests, 'PodMonitor')).toHaveLength(5);
    for (const app of Object.values(APPS)) {
      const spec = (forApp(manifests, 'PodMonitor', app) as unknown as { spec: MonitorSpec }).spec;
      const d = deployment(manifests, app);
      for (const [k, v] of Object.entries(spec.selector.matchLabels)) {
        expect(d.spec.template.metadata.labels[k]).toBe(v);
      }
      const endpoint = spec.podMetricsEndpoints![0]!;
      expect(mainContainer(d).ports?.map((p) => p.name)).toContain(endpoint.port);
      expect(endpoint.path).toBe('/metrics');
    }
    // token-server on loopback cannot be scraped from outside its pod: no monitor for it.
    const loopback = render(ALL_APPS_MINIMAL, { metrics: { podMonitor: { enabled: true } } });
    expect(hasApp(loopback, 'PodMonitor', 'token-server')).toBe(false);
  });

  it('ships the Grafana dashboard of docs/ in a ConfigMap labelled for the dashboard sidecar', () => {
    const manifests = render(REACHABLE, {
      metrics: {
        grafanaDashboard: { enabled: true, namespace: 'monitoring', annotations: { grafana_folder: 'Auth' } },
      },
    });
    const cm = ofKind(manifests, 'ConfigMap')[0] as Manifest & { data: Record<string, string> };
    expect(cm.metadata.namespace).toBe('monitoring');
    expect(cm.metadata.labels?.grafana_dashboard).toBe('1');
    expect(cm.metadata.annotations?.grafana_folder).toBe('Auth');
    const shipped = JSON.parse(cm.data['auth-sidecars.json']!) as { uid: string; panels: unknown[] };
    const docs = JSON.parse(readFileSync(join(repoRoot, 'docs/grafana-dashboard.json'), 'utf8')) as unknown;
    // The chart's copy (Helm cannot read outside the chart) is the documented dashboard, unchanged.
    expect(shipped).toEqual(docs);
    expect(shipped.panels.length).toBeGreaterThan(0);
  });
});

describe('helm chart: aks-broker Ingress and forward-auth wiring', () => {
  const ingressValues = {
    apps: {
      aksBroker: {
        ingress: {
          enabled: true,
          className: 'nginx',
          annotations: { 'cert-manager.io/cluster-issuer': 'letsencrypt' },
          tls: { secretName: 'broker-tls' },
        },
      },
    },
  };

  it('routes the publicUrl host to the broker Service, always with TLS', () => {
    const manifests = render(REACHABLE, ingressValues);
    const ingress = ofKind(manifests, 'Ingress')[0] as unknown as {
      metadata: { annotations: Record<string, string> };
      spec: {
        ingressClassName: string;
        tls: Array<{ hosts: string[]; secretName: string }>;
        rules: Array<{
          host: string;
          http: {
            paths: Array<{ path: string; backend: { service: { name: string; port: { name: string } } } }>;
          };
        }>;
      };
    };
    expect(ingress.spec.ingressClassName).toBe('nginx');
    expect(ingress.metadata.annotations['cert-manager.io/cluster-issuer']).toBe('letsencrypt');
    expect(ingress.spec.tls).toEqual([{ hosts: ['broker.example.com'], secretName: 'broker-tls' }]);
    expect(ingress.spec.rules[0]!.host).toBe('broker.example.com');
    const backend = ingress.spec.rules[0]!.http.paths[0]!.backend.service;
    expect(backend.name).toBe(forApp(manifests, 'Service', 'aks-broker').metadata.name);
    expect(backend.port.name).toBe('http');
  });

  it('refuses an Ingress without a TLS secret or with an http publicUrl (the __Host- cookie needs HTTPS)', () => {
    expect(renderError(REACHABLE, { apps: { aksBroker: { ingress: { enabled: true } } } })).toMatch(
      /apps\.aksBroker\.ingress\.tls\.secretName is required/,
    );
    expect(
      renderError(REACHABLE, ingressValues, {
        apps: { aksBroker: { publicUrl: 'http://broker.example.com' } },
      }),
    ).toMatch(/apps\.aksBroker\.ingress needs an https publicUrl/);
  });

  it('renders a Traefik forwardAuth Middleware, and NOTES gives the ingress-nginx auth-url, both at the carta-forwardauth Service', () => {
    const values = { apps: { cartaForwardauth: { traefikMiddleware: { enabled: true } } } };
    const manifests = render(REACHABLE, values);
    const service = forApp(manifests, 'Service', 'carta-forwardauth') as unknown as {
      metadata: { name: string };
      spec: { ports: Array<{ port: number }> };
    };
    const url = `http://${service.metadata.name}.auth.svc:${service.spec.ports[0]!.port}/`;
    const middleware = ofKind(manifests, 'Middleware')[0] as unknown as {
      apiVersion: string;
      spec: { forwardAuth: { address: string; authResponseHeaders: string[]; trustForwardHeader: boolean } };
    };
    expect(middleware.apiVersion).toBe('traefik.io/v1alpha1');
    expect(middleware.spec.forwardAuth).toEqual({
      address: url,
      authResponseHeaders: ['carta-auth-token'],
      trustForwardHeader: false,
    });
    const text = notes(REACHABLE, values);
    expect(text).toContain(`nginx.ingress.kubernetes.io/auth-url: "${url}"`);
    expect(text).toContain('nginx.ingress.kubernetes.io/auth-response-headers: carta-auth-token');
    expect(text).toContain(`router.middlewares: auth-${service.metadata.name}@kubernetescrd`);
    expect(ofKind(render(REACHABLE), 'Middleware')).toHaveLength(0);
  });
});

describe('helm chart: per-app knobs', () => {
  // Each knob is set for every app at once (one render per knob); each app then reads its own.
  const perApp = (make: (key: AppKey) => object) => ({
    apps: Object.fromEntries(APP_KEYS.map((key) => [key, make(key)])),
  });
  const digest = `sha256:${'a'.repeat(64)}`;
  const toleration = (key: AppKey) => ({
    key: 'dedicated',
    operator: 'Equal',
    value: key,
    effect: 'NoSchedule',
  });
  const affinity = (key: AppKey) => ({
    nodeAffinity: {
      requiredDuringSchedulingIgnoredDuringExecution: {
        nodeSelectorTerms: [{ matchExpressions: [{ key: 'pool', operator: 'In', values: [key] }] }],
      },
    },
  });
  const globalScheduling = {
    nodeSelector: { 'kubernetes.io/os': 'linux' },
    tolerations: [{ key: 'global', operator: 'Exists' }],
    priorityClassName: 'global-priority',
    topologySpreadConstraints: [
      { maxSkew: 2, topologyKey: 'kubernetes.io/hostname', whenUnsatisfiable: 'DoNotSchedule' },
    ],
  };
  const knobs = () =>
    render(
      REACHABLE,
      {
        image: { tag: '1.2.3' },
        podLabels: { team: 'platform', tier: 'all' },
        podAnnotations: { 'example.com/global': 'g' },
      },
      globalScheduling,
      perApp((key) => ({
        image: { tag: `1.2.4-${key.toLowerCase()}`, digest },
        podLabels: { tier: key.toLowerCase() },
        podAnnotations: { 'example.com/app': key },
        nodeSelector: { pool: key.toLowerCase() },
        tolerations: [toleration(key)],
        affinity: affinity(key),
        topologySpreadConstraints: [
          { maxSkew: 1, topologyKey: 'topology.kubernetes.io/zone', whenUnsatisfiable: 'ScheduleAnyway' },
        ],
        priorityClassName: 'auth-critical',
        service: {
          type: 'LoadBalancer',
          annotations: { 'service.beta.kubernetes.io/azure-load-balancer-internal': 'true' },
        },
        probes: { readiness: { periodSeconds: 11, failureThreshold: 4 }, startup: { failureThreshold: 90 } },
        extraEnvFrom: [{ configMapRef: { name: 'more-settings' } }],
        extraVolumes: [{ name: 'ca-bundle', configMap: { name: 'corporate-ca' } }],
        extraVolumeMounts: [{ name: 'ca-bundle', mountPath: '/etc/ssl/corporate', readOnly: true }],
        extraContainers: [{ name: 'log-shipper', image: 'example/shipper:1' }],
      })),
    );
  /** Only the global settings: what an app that sets nothing of its own gets. */
  const defaults = () =>
    render(REACHABLE, { image: { tag: '1.2.3' }, podLabels: { team: 'platform' } }, globalScheduling);

  it.each(APP_KEYS)('%s: image tag and digest', (key) => {
    const app = APPS[key];
    expect(mainContainer(deployment(defaults(), app)).image).toBe(`ghcr.io/auth-sidecars/${app}:1.2.3`);
    expect(mainContainer(deployment(knobs(), app)).image).toBe(
      `ghcr.io/auth-sidecars/${app}:1.2.4-${key.toLowerCase()}@${digest}`,
    );
  });

  it.each(APP_KEYS)('%s: pod labels and annotations, merged over the global ones', (key) => {
    const meta = deployment(knobs(), APPS[key]).spec.template.metadata;
    expect(meta.labels).toMatchObject({ team: 'platform', tier: key.toLowerCase() });
    expect(meta.annotations).toMatchObject({ 'example.com/global': 'g', 'example.com/app': key });
    // The selector labels survive whatever the user adds.
    expect(meta.labels['app.kubernetes.io/name']).toBe(APPS[key]);
  });

  it.each(APP_KEYS)(
    '%s: scheduling (nodeSelector, tolerations, affinity, topology spread, priority class)',
    (key) => {
      const selector = {
        matchLabels: { 'app.kubernetes.io/name': APPS[key], 'app.kubernetes.io/instance': 'release' },
      };
      const pod = deployment(knobs(), APPS[key]).spec.template.spec;
      expect(pod.nodeSelector).toEqual({ 'kubernetes.io/os': 'linux', pool: key.toLowerCase() });
      expect(pod.tolerations).toEqual([toleration(key)]);
      expect(pod.affinity).toEqual(affinity(key));
      expect(pod.priorityClassName).toBe('auth-critical');
      // A constraint without a labelSelector counts this app's pods.
      expect(pod.topologySpreadConstraints).toEqual([
        {
          maxSkew: 1,
          topologyKey: 'topology.kubernetes.io/zone',
          whenUnsatisfiable: 'ScheduleAnyway',
          labelSelector: selector,
        },
      ]);
      // The global defaults apply where the app sets nothing.
      const fallback = deployment(defaults(), APPS[key]).spec.template.spec;
      expect(fallback.nodeSelector).toEqual({ 'kubernetes.io/os': 'linux' });
      expect(fallback.tolerations).toEqual([{ key: 'global', operator: 'Exists' }]);
      expect(fallback.priorityClassName).toBe('global-priority');
      expect(fallback.topologySpreadConstraints).toEqual([
        {
          maxSkew: 2,
          topologyKey: 'kubernetes.io/hostname',
          whenUnsatisfiable: 'DoNotSchedule',
          labelSelector: selector,
        },
      ]);
    },
  );

  it.each(APP_KEYS)('%s: Service type and annotations', (key) => {
    const service = forApp(knobs(), 'Service', APPS[key]) as unknown as {
      metadata: { annotations: Record<string, string> };
      spec: { type: string };
    };
    expect(service.spec.type).toBe('LoadBalancer');
    expect(service.metadata.annotations['service.beta.kubernetes.io/azure-load-balancer-internal']).toBe(
      'true',
    );
    expect(
      (forApp(defaults(), 'Service', APPS[key]) as unknown as { spec: { type: string } }).spec.type,
    ).toBe('ClusterIP');
  });

  it.each(APP_KEYS)('%s: tunable probes, merged over the defaults', (key) => {
    const c = mainContainer(deployment(knobs(), APPS[key]));
    expect(c.readinessProbe).toMatchObject({ periodSeconds: 11, failureThreshold: 4, timeoutSeconds: 3 });
    expect(c.readinessProbe?.httpGet?.path).toBe('/readyz');
    expect(c.startupProbe).toMatchObject({ failureThreshold: 90, periodSeconds: 2 });
    expect(c.livenessProbe).toMatchObject({ periodSeconds: 10, failureThreshold: 3 });
  });

  it('refuses a probe setting Kubernetes would refuse', () => {
    expect(
      renderError(REACHABLE, { apps: { promSidecar: { probes: { readiness: { periodSeconds: 0 } } } } }),
    ).toMatch(/periodSeconds/);
    expect(renderError(REACHABLE, { apps: { promSidecar: { probes: { readyness: {} } } } })).toMatch(
      /additional properties 'readyness'/,
    );
  });

  it.each(APP_KEYS)('%s: extraEnvFrom, extraVolumes, extraVolumeMounts and extraContainers', (key) => {
    const d = deployment(knobs(), APPS[key]);
    const c = mainContainer(d);
    expect(c.envFrom).toEqual([{ configMapRef: { name: 'more-settings' } }]);
    expect(d.spec.template.spec.volumes).toContainEqual({
      name: 'ca-bundle',
      configMap: { name: 'corporate-ca' },
    });
    expect(c.volumeMounts).toContainEqual({
      name: 'ca-bundle',
      mountPath: '/etc/ssl/corporate',
      readOnly: true,
    });
    // The chart's own mounts stay.
    expect(c.volumeMounts).toContainEqual({ name: 'tmp', mountPath: '/tmp' });
    expect(d.spec.template.spec.containers).toEqual([
      expect.objectContaining({ name: APPS[key] }),
      { name: 'log-shipper', image: 'example/shipper:1' },
    ]);
  });
});

describe('helm chart: HorizontalPodAutoscaler', () => {
  it.each(['promSidecar', 'openaiProxy', 'cartaForwardauth'] as const)(
    '%s scales on CPU between its bounds, and its Deployment leaves replicas to the HPA',
    (key) => {
      const manifests = render(REACHABLE, {
        apps: {
          [key]: {
            autoscaling: {
              enabled: true,
              minReplicas: 2,
              maxReplicas: 7,
              targetCPUUtilizationPercentage: 60,
            },
          },
        },
      });
      const hpa = forApp(manifests, 'HorizontalPodAutoscaler', APPS[key]) as unknown as {
        apiVersion: string;
        spec: {
          scaleTargetRef: { kind: string; name: string };
          minReplicas: number;
          maxReplicas: number;
          metrics: Array<{ resource: { name: string; target: { averageUtilization: number } } }>;
        };
      };
      expect(hpa.apiVersion).toBe('autoscaling/v2');
      const d = deployment(manifests, APPS[key]);
      expect(hpa.spec.scaleTargetRef).toEqual({
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        name: d.metadata.name,
      });
      expect(hpa.spec).toMatchObject({ minReplicas: 2, maxReplicas: 7 });
      expect(hpa.spec.metrics[0]!.resource).toEqual({
        name: 'cpu',
        target: { type: 'Utilization', averageUtilization: 60 },
      });
      expect(d.spec.replicas).toBeUndefined();
      // Two or more replicas at the floor: a PodDisruptionBudget keeps one up during node drains.
      expect(hasApp(manifests, 'PodDisruptionBudget', APPS[key])).toBe(true);
    },
  );

  it('is not offered for token-server or aks-broker (the schema refuses the key)', () => {
    expect(renderError(REACHABLE, { apps: { tokenServer: { autoscaling: { enabled: true } } } })).toMatch(
      /additional properties 'autoscaling'/,
    );
    expect(renderError(REACHABLE, { apps: { aksBroker: { autoscaling: { enabled: true } } } })).toMatch(
      /additional properties 'autoscaling'/,
    );
  });
});

describe('helm chart: helm test', () => {
  it("renders one test pod per reachable app that GETs the app's /readyz through its Service, on the port its readinessProbe uses", () => {
    const manifests = render(REACHABLE);
    const pods = ofKind(manifests, 'Pod') as unknown as Array<
      Manifest & {
        spec: { containers: Container[]; restartPolicy: string; automountServiceAccountToken: boolean };
      }
    >;
    expect(pods).toHaveLength(5);
    for (const app of Object.values(APPS)) {
      const pod = pods.find((p) => p.metadata.name === `release-auth-sidecars-${app}-test`)!;
      expect(pod.metadata.annotations?.['helm.sh/hook']).toBe('test');
      expect(pod.spec.restartPolicy).toBe('Never');
      expect(pod.spec.automountServiceAccountToken).toBe(false);
      const c = pod.spec.containers[0]!;
      const service = forApp(manifests, 'Service', app) as unknown as {
        spec: { ports: Array<{ port: number; targetPort: string }> };
      };
      // The Service port leading to the container port the kubelet probes (carta-forwardauth's is
      // its probe port: on its http port /readyz would be a ForwardAuth decision).
      const probed = mainContainer(deployment(manifests, app)).readinessProbe!.httpGet!.port;
      const port = service.spec.ports.find((p) => p.targetPort === probed)!.port;
      expect(port).toBe(app === 'carta-forwardauth' ? 8001 : service.spec.ports[0]!.port);
      const scheme = app === 'token-server' ? 'https' : 'http';
      expect(c.command!.slice(-2)).toEqual([
        `${scheme}://release-auth-sidecars-${app}.auth.svc:${port}/readyz`,
        '60',
      ]);
      expect(c.image).toBe(mainContainer(deployment(manifests, app)).image);
      expect(c.securityContext).toMatchObject({
        readOnlyRootFilesystem: true,
        allowPrivilegeEscalation: false,
      });
    }
    expect(ofKind(render(REACHABLE, { tests: { enabled: false } }), 'Pod')).toHaveLength(0);
  });

  it("the test pod's script succeeds on 200 and fails otherwise", async () => {
    // Run the pod's own script, as the image would, against a local server answering 200 then 503.
    const { createServer } = await import('node:http');
    const pod = ofKind(render(REACHABLE), 'Pod')[0] as unknown as { spec: { containers: Container[] } };
    const [, flag, script] = pod.spec.containers[0]!.command!;
    let status = 200;
    const server = createServer((_req, res) => res.writeHead(status).end());
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server.address() as { port: number }).port}/readyz`;
    try {
      const run = () =>
        new Promise<number>((resolve) => {
          import('node:child_process').then(({ execFile }) =>
            execFile(process.execPath, [flag!, script!, url, '3'], { timeout: 60_000 }, (error) =>
              resolve(error ? ((error as { code?: number }).code ?? 1) : 0),
            ),
          );
        });
      expect(await run()).toBe(0);
      status = 503;
      // It retries until its deadline (the pod gives 60 s, here 3 s), then gives up.
      expect(await run()).toBe(1);
    } finally {
      server.close();
    }
  }, 90_000);
});

describe('helm chart: NOTES.txt', () => {
  it('prints each app URL with the right scheme and the federated-credential subject of its ServiceAccount', () => {
    const text = notes('all-apps-values.yaml');
    expect(text).toContain('https://release-auth-sidecars-token-server.auth.svc:8080');
    expect(text).toContain('http://release-auth-sidecars-openai-proxy.auth.svc:8080');
    for (const app of ['prom-sidecar', 'token-server', 'aks-broker']) {
      expect(text).toContain(`subject: system:serviceaccount:auth:release-auth-sidecars-${app}`);
    }
    // openai-proxy uses its certificate and carta-forwardauth no Entra credential: nothing to federate.
    expect(text).not.toContain('system:serviceaccount:auth:release-auth-sidecars-openai-proxy');
    expect(text).not.toContain('system:serviceaccount:auth:release-auth-sidecars-carta-forwardauth');
    expect(text).toContain(
      'federated credential to register on Entra app 00000000-0000-0000-0000-0000000000a1',
    );
    expect(text).toContain('redirect URI to register in Entra: https://broker.example.com/callback');
    expect(text).toContain('helm test release -n auth');
    // The ci scenario with every app is also the one with nothing risky in it.
    expect(text).not.toContain('WARNINGS');
  });

  it('warns about risky values', () => {
    const text = notes(ALL_APPS_MINIMAL, {
      logLevel: 'debug',
      networkPolicy: { enabled: false },
      image: { tag: 'latest' },
      apps: {
        aksBroker: { publicUrl: 'http://broker.example.com' },
        tokenServer: { host: '0.0.0.0' },
      },
    });
    const warnings = text.slice(text.indexOf('WARNINGS'));
    for (const expected of [
      /apps\.aksBroker\.publicUrl is not https/,
      /token-server listens on 0\.0\.0\.0 without TLS/,
      /apps\.tokenServer\.allowedScopes is empty/,
      /prom-sidecar runs without a NetworkPolicy/,
      /openai-proxy runs without a NetworkPolicy/,
      /token-server runs without a NetworkPolicy/,
      /prom-sidecar uses the tag latest/,
      /logLevel is debug/,
    ]) {
      expect(warnings).toMatch(expected);
    }
  });
});

describe('helm chart: Chart.yaml', () => {
  const chart = parse(readFileSync(join(chartDir, 'Chart.yaml'), 'utf8')) as Record<string, unknown>;

  it('declares kubeVersion, icon, maintainers and sources', () => {
    expect(chart.kubeVersion).toBe('>=1.29.0-0');
    expect(chart.icon).toMatch(/^https:\/\/.+\/helm\/auth-sidecars\/icon\.svg$/);
    expect(readFileSync(join(chartDir, 'icon.svg'), 'utf8')).toMatch(
      /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/,
    );
    expect(chart.maintainers).toEqual([
      expect.objectContaining({ name: expect.any(String), url: expect.stringMatching(/^https:/) }),
    ]);
    expect((chart.sources as string[]).length).toBeGreaterThan(0);
    for (const s of chart.sources as string[]) expect(s).toMatch(/^https:\/\//);
  });

  it('refuses clusters older than its kubeVersion', () => {
    expect(() =>
      helmTemplate(['-f', join(chartDir, 'ci/promSidecar-values.yaml'), '--kube-version', '1.28.9']),
    ).toThrow(/requires kubeVersion: >=1\.29\.0-0/);
  });

  it('packages the files its templates read (the dashboard, the schema, the test pods)', () => {
    const out = mkdtempSync(join(tmpdir(), 'helm-package-'));
    execFileSync(helm, ['package', chartDir, '--destination', out], { encoding: 'utf8', stdio: 'pipe' });
    const tgz = join(out, `auth-sidecars-${String(chart.version)}.tgz`);
    const files = execFileSync('tar', ['-tzf', tgz], { encoding: 'utf8' }).split('\n');
    for (const file of [
      'Chart.yaml',
      'values.yaml',
      'values.schema.json',
      'README.md',
      'files/grafana-dashboard.json',
      'templates/tests/readyz.yaml',
      'templates/NOTES.txt',
    ]) {
      expect(files).toContain(`auth-sidecars/${file}`);
    }
  });
});
