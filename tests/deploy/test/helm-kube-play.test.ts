// Runs what can be run without a Kubernetes API server: one rendered Deployment per app goes through
// `podman kube play`, with the images the chart names, and must answer /readyz with 200. That
// exercises the env, Secret mounts, ConfigMap mounts and probes' paths the chart writes, against
// dev-entra and the Kubernetes API stand-in on the host's loopback (the pods use the host network).
//
// The podman part runs for each app whose image exists locally (`podman image exists`):
//   KUBE_PLAY_REGISTRY=localhost/auth-sidecars KUBE_PLAY_TAG=dev npx jest test/helm-kube-play.test.ts
// (defaults: the chart's image.registry and appVersion). KUBE_PLAY=required fails instead when an
// image or podman is missing (for the images test tier). What the harness adds to the rendered
// Deployment, and why, is listed in `playable`: nothing else is changed.
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { createClientCertificate, startDevEntra, type DevEntra } from '@auth-sidecars/dev-entra';
import { startKubeApi, type KubeApi } from '@auth-sidecars/testkit/kube-api';
import type { Manifest } from './support/repo.js';
import {
  ALL_APPS_MINIMAL,
  APPS,
  deployment,
  helmTemplate,
  mainContainer,
  NAMESPACE,
  ofKind,
  render,
  valuesArgs,
  type AppKey,
  type Deployment,
} from './support/helm.js';

const APP_KEYS = Object.keys(APPS) as AppKey[];
const REQUIRED = process.env.KUBE_PLAY === 'required';
const imageValues = {
  image: {
    ...(process.env.KUBE_PLAY_REGISTRY ? { registry: process.env.KUBE_PLAY_REGISTRY } : {}),
    ...(process.env.KUBE_PLAY_TAG ? { tag: process.env.KUBE_PLAY_TAG } : {}),
    // Nothing is pulled here: the images must be local.
    pullPolicy: 'Never',
  },
};

/** The image each app's Deployment names. */
const images = Object.fromEntries(
  APP_KEYS.map((key) => [
    key,
    mainContainer(deployment(render(ALL_APPS_MINIMAL, imageValues), APPS[key])).image,
  ]),
) as Record<AppKey, string>;

// Rootful podman on these machines needs runc and lower ulimits (shared/CONTAINERS.md); a
// CONTAINERS_CONF from the environment (the images tier's) wins.
const podmanEnv = (() => {
  if (process.env.CONTAINERS_CONF) return process.env;
  const dir = mkdtempSync(join(tmpdir(), 'kube-play-conf-'));
  const conf = join(dir, 'containers.conf');
  writeFileSync(
    conf,
    '[containers]\ndefault_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]\n[engine]\nruntime = "runc"\n',
  );
  return { ...process.env, CONTAINERS_CONF: conf };
})();

function podman(args: string[]): string {
  return execFileSync('podman', args, { env: podmanEnv, encoding: 'utf8', stdio: 'pipe', timeout: 300_000 });
}

const podmanVersionRun = spawnSync('podman', ['--version'], { env: podmanEnv, encoding: 'utf8' });
const podmanWorks = podmanVersionRun.status === 0;
const podmanVersion = /(\d+\.\d+\.\d+)/.exec(podmanVersionRun.stdout ?? '')?.[1] ?? '0.0.0';
const present = podmanWorks
  ? APP_KEYS.filter(
      (key) => spawnSync('podman', ['image', 'exists', images[key]], { env: podmanEnv }).status === 0,
    )
  : [];
const missing = APP_KEYS.filter((key) => !present.includes(key));

interface Playable {
  deployment: Deployment;
  /** Secrets to create first: name -> { data (base64), usedByEnv }. */
  secrets: Map<string, { data: Record<string, string>; usedByEnv: boolean }>;
}

/**
 * The rendered Deployment as podman can play it. Added, and nothing else:
 * - `hostNetwork: true`: the app and the stand-ins meet on the host's loopback;
 * - `optional: false` on Secret volumes: podman 4.3 dereferences the field without a nil check;
 * - no `ports` list: podman turns it into port mappings, which it refuses with the host network;
 * - one replica: the pods share the host's network, where the app's port can be bound once.
 * Every Secret it references must be one the chart rendered (these values use inline secrets only).
 */
function playable(manifests: Manifest[], app: string): Playable {
  const d = structuredClone(deployment(manifests, app));
  const pod = d.spec.template.spec as Deployment['spec']['template']['spec'] & { hostNetwork?: boolean };
  pod.hostNetwork = true;
  delete mainContainer(d).ports;
  d.spec.replicas = 1;
  const rendered = new Map(
    ofKind<Manifest & { data: Record<string, string> }>(manifests, 'Secret').map((s) => [
      s.metadata.name,
      s.data,
    ]),
  );
  const secrets: Playable['secrets'] = new Map();
  const use = (name: string, usedByEnv: boolean) => {
    const data = rendered.get(name);
    if (!data) throw new Error(`${app} references Secret ${name}, which the chart did not render`);
    const entry = secrets.get(name) ?? { data, usedByEnv: false };
    entry.usedByEnv ||= usedByEnv;
    secrets.set(name, entry);
  };
  for (const volume of pod.volumes ?? []) {
    if (!volume.secret) continue;
    (volume.secret as { optional?: boolean }).optional = false;
    use(volume.secret.secretName, false);
  }
  for (const e of mainContainer(d).env ?? []) {
    if (e.valueFrom?.secretKeyRef) use(e.valueFrom.secretKeyRef.name, true);
  }
  return { deployment: d, secrets };
}

/**
 * The podman secret that stands for a Kubernetes Secret. From podman 4.4 that is the Secret itself;
 * podman 4.3 (Debian 12) reads a Secret used for env as a JSON map of base64 values, and writes a
 * Secret volume's `data` values into the files as they are, without decoding them (podman#16625).
 */
function podmanSecret(name: string, data: Record<string, string>, usedByEnv: boolean): string {
  const [major = 0, minor = 0] = podmanVersion.split('.').map(Number);
  const legacy = major < 4 || (major === 4 && minor < 4);
  if (legacy && usedByEnv) return JSON.stringify(data);
  const values = legacy
    ? Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Buffer.from(v, 'base64').toString()]))
    : data;
  return JSON.stringify({
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name },
    type: 'Opaque',
    data: values,
  });
}

/**
 * The URL the kubelet's probe asks, from the pod's network (the host's here, podman runs no probes
 * without systemd): an httpGet's named container port, or the URL of a loopback app's exec probe.
 */
function probeUrl(d: Deployment, kind: 'readinessProbe' | 'livenessProbe'): string {
  const c = mainContainer(d);
  const probe = c[kind];
  if (probe?.exec) {
    const url = /fetch\('([^']+)'\)/.exec(probe.exec.command.join(' '))?.[1];
    if (!url)
      throw new Error(`${kind} of ${d.metadata.name} fetches no URL: ${probe.exec.command.join(' ')}`);
    return url;
  }
  const get = probe?.httpGet;
  if (!get) throw new Error(`${d.metadata.name} has no ${kind}`);
  const port =
    typeof get.port === 'number' ? get.port : c.ports?.find((p) => p.name === get.port)?.containerPort;
  if (port === undefined) throw new Error(`${kind} of ${d.metadata.name} names no container port`);
  return `${(get.scheme ?? 'HTTP').toLowerCase()}://127.0.0.1:${port}${get.path}`;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function until(check: () => Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check().catch(() => false)) return true;
    await new Promise((r) => setTimeout(r, 1000));
  }
  return false;
}

const RELEASE = `kp${process.pid}`;
const saName = (app: string) => `${RELEASE}-auth-sidecars-${app}`;
const TOKEN_DIR = '/var/run/secrets/azure/tokens';
const ENTRA_CA_DIR = '/var/run/secrets/dev-entra';
const SHARED_SECRET = 'kube-play-shared-secret-0123456789';

interface World {
  entra: DevEntra;
  kube: KubeApi;
  dir: string;
  values: object;
  ports: Record<AppKey, number>;
  /** carta-forwardauth's probe port (a free one: the pods share the host's network). */
  cartaProbePort: number;
  close(): Promise<void>;
}

/** dev-entra with one Entra app per app, the Kubernetes API stand-in, and what the kubelet and the
 * workload-identity webhook would put into the pods, as host directories. */
async function startWorld(): Promise<World> {
  const entra = await startDevEntra();
  const dir = mkdtempSync(join(tmpdir(), 'kube-play-'));
  chmodSync(dir, 0o755);
  const hostDir = (name: string, files: Record<string, string>) => {
    const path = join(dir, name);
    mkdirSync(path, { recursive: true, mode: 0o755 });
    for (const [file, text] of Object.entries(files)) writeFileSync(join(path, file), text, { mode: 0o644 });
    return path;
  };
  const entraCa = hostDir('dev-entra', { 'ca.pem': entra.caPem });
  // The federated subject each app's pod presents is the one NOTES.txt tells users to register.
  const federated = (app: string) => {
    const subject = `system:serviceaccount:${NAMESPACE}:${saName(app)}`;
    const clientId = entra.registerApp({ name: app, federatedSubject: subject }).clientId;
    const tokens = hostDir(`${app}-token`, {
      'azure-identity-token': entra.issueFederatedToken({ subject }),
    });
    return {
      azure: { clientId },
      env: {
        AZURE_FEDERATED_TOKEN_FILE: `${TOKEN_DIR}/azure-identity-token`,
        NODE_EXTRA_CA_CERTS: `${ENTRA_CA_DIR}/ca.pem`,
      },
      extraVolumes: [
        { name: 'azure-identity-token', hostPath: { path: tokens, type: 'Directory' } },
        { name: 'dev-entra-ca', hostPath: { path: entraCa, type: 'Directory' } },
      ],
      extraVolumeMounts: [
        { name: 'azure-identity-token', mountPath: TOKEN_DIR, readOnly: true },
        { name: 'dev-entra-ca', mountPath: ENTRA_CA_DIR, readOnly: true },
      ],
    };
  };

  const cartaUser = `system:serviceaccount:${NAMESPACE}:${saName('carta-forwardauth')}`;
  const kube = await startKubeApi({ defaultNamespace: 'skaha-workload' });
  kube.addNamespace('skaha-workload');
  const cartaToken = kube.token(cartaUser);
  const inCluster = { KUBERNETES_SERVICE_HOST: '127.0.0.1', KUBERNETES_SERVICE_PORT: String(kube.port) };
  // What automountServiceAccountToken puts into carta-forwardauth's pod.
  const cartaSa = hostDir('carta-sa', { token: cartaToken, 'ca.crt': kube.caPem, namespace: NAMESPACE });

  const cert = await createClientCertificate({ subject: 'openai-proxy' });
  const openaiClient = entra.registerApp({ name: 'openai-proxy', certificatePem: cert.certPem }).clientId;

  const ports = Object.fromEntries(
    await Promise.all(APP_KEYS.map(async (k) => [k, await freePort()])),
  ) as Record<AppKey, number>;
  const cartaProbePort = await freePort();
  const broker = federated('aks-broker');
  const values = {
    ...imageValues,
    azure: { tenantId: entra.tenantId, authorityHost: entra.url },
    tests: { enabled: false },
    apps: {
      promSidecar: {
        enabled: true,
        port: ports.promSidecar,
        // Not contacted for readiness; a closed loopback port if it were.
        queryEndpoint: 'https://127.0.0.1:9',
        ...merge(federated('prom-sidecar'), { env: { HOST: '127.0.0.1' } }),
      },
      openaiProxy: {
        enabled: true,
        port: ports.openaiProxy,
        apiBaseUrl: 'https://127.0.0.1:9',
        azure: { clientId: openaiClient },
        certificate: { value: cert.pem },
        env: { HOST: '127.0.0.1', NODE_EXTRA_CA_CERTS: `${ENTRA_CA_DIR}/ca.pem` },
        extraVolumes: [{ name: 'dev-entra-ca', hostPath: { path: entraCa, type: 'Directory' } }],
        extraVolumeMounts: [{ name: 'dev-entra-ca', mountPath: ENTRA_CA_DIR, readOnly: true }],
      },
      tokenServer: {
        enabled: true,
        port: ports.tokenServer,
        sharedSecret: { value: SHARED_SECRET },
        ...federated('token-server'),
      },
      cartaForwardauth: {
        enabled: true,
        port: ports.cartaForwardauth,
        probePort: cartaProbePort,
        env: { HOST: '127.0.0.1', ...inCluster },
        extraVolumes: [{ name: 'service-account', hostPath: { path: cartaSa, type: 'Directory' } }],
        extraVolumeMounts: [
          {
            name: 'service-account',
            mountPath: '/var/run/secrets/kubernetes.io/serviceaccount',
            readOnly: true,
          },
        ],
      },
      aksBroker: {
        enabled: true,
        port: ports.aksBroker,
        publicUrl: `http://127.0.0.1:${ports.aksBroker}`,
        secrets: { sessionSecret: 's'.repeat(40) },
        ...merge(broker, { env: { HOST: '127.0.0.1', COOKIE_SECURE: 'false', ...inCluster } }),
      },
    },
  };
  return {
    entra,
    kube,
    dir,
    values,
    ports,
    cartaProbePort,
    close: async () => {
      await kube.close();
      await entra.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function merge<T extends { env: Record<string, string> }>(
  base: T,
  extra: { env: Record<string, string> },
): T {
  return { ...base, env: { ...base.env, ...extra.env } };
}

describe('helm chart: podman kube play', () => {
  it('turns each rendered Deployment into a playable one whose Secrets are all rendered by the chart', () => {
    const inline = {
      ...ALL_APPS_MINIMAL,
      apps: {
        ...ALL_APPS_MINIMAL.apps,
        openaiProxy: { ...ALL_APPS_MINIMAL.apps.openaiProxy, certificate: { value: 'PEM' } },
        tokenServer: { enabled: true, sharedSecret: { value: SHARED_SECRET } },
        aksBroker: { ...ALL_APPS_MINIMAL.apps.aksBroker, secrets: { sessionSecret: 's'.repeat(40) } },
      },
    };
    const manifests = render(inline, imageValues);
    const token = playable(manifests, 'token-server');
    expect([...token.secrets.entries()]).toEqual([
      [`release-auth-sidecars-token-server`, { data: { secret: expect.any(String) }, usedByEnv: false }],
    ]);
    expect((token.deployment.spec.template.spec as { hostNetwork?: boolean }).hostNetwork).toBe(true);
    expect(playable(manifests, 'aks-broker').secrets.get('release-auth-sidecars-aks-broker')?.usedByEnv).toBe(
      true,
    );
    expect(playable(manifests, 'openai-proxy').secrets.size).toBe(1);
    // Apart from what `playable` documents, the Deployment is the chart's.
    const expected = structuredClone(deployment(manifests, 'token-server'));
    Object.assign(expected.spec.template.spec, { hostNetwork: true });
    delete mainContainer(expected).ports;
    expected.spec.replicas = 1;
    for (const v of expected.spec.template.spec.volumes ?? [])
      if (v.secret) Object.assign(v.secret, { optional: false });
    expect(token.deployment).toEqual(expected);
    // An existingSecret is not the chart's to provide: the harness says so rather than guess.
    expect(() => playable(render(ALL_APPS_MINIMAL), 'token-server')).toThrow(
      /Secret ts, which the chart did not render/,
    );
    // The images podman must have are the ones the chart names.
    for (const key of APP_KEYS) expect(images[key]).toMatch(new RegExp(`/${APPS[key]}:[^/]+$`));
    // Readiness is checked where the kubelet's probe asks: carta-forwardauth's on its probe port (on
    // its http port every path, /readyz too, is a ForwardAuth decision), bound to loopback or not.
    expect(probeUrl(deployment(manifests, 'carta-forwardauth'), 'readinessProbe')).toBe(
      'http://127.0.0.1:8001/readyz',
    );
    const loopbackCarta = render(inline, imageValues, {
      apps: { cartaForwardauth: { port: 9200, probePort: 9201, env: { HOST: '127.0.0.1' } } },
    });
    expect(probeUrl(deployment(loopbackCarta, 'carta-forwardauth'), 'readinessProbe')).toBe(
      'http://127.0.0.1:9201/readyz',
    );
    expect(probeUrl(deployment(manifests, 'openai-proxy'), 'readinessProbe')).toBe(
      'http://127.0.0.1:8080/readyz',
    );
  });

  if (REQUIRED) {
    it('has podman and every app image (KUBE_PLAY=required)', () => {
      expect({ podman: podmanWorks, missing: missing.map((k) => images[k]) }).toEqual({
        podman: true,
        missing: [],
      });
    });
  } else if (missing.length > 0) {
    // Not a test: a note in the run's output of what was not played and why.
    console.log(
      `podman kube play: not run for ${missing.map((k) => APPS[k]).join(', ')}: ` +
        (podmanWorks
          ? `no local image ${missing.map((k) => images[k]).join(', ')}`
          : 'podman is not available'),
    );
  }

  if (present.length > 0) {
    let world: World;
    beforeAll(async () => {
      world = await startWorld();
    }, 60_000);
    afterAll(async () => {
      await world?.close();
    });

    it.each(present)(
      '%s: the rendered Deployment boots under podman and answers /readyz with 200',
      async (key) => {
        const app = APPS[key];
        const manifests = helmTemplate(valuesArgs(world.values), RELEASE);
        const { deployment: d, secrets } = playable(manifests, app);
        const readyz = probeUrl(deployment(manifests, app), 'readinessProbe');
        const livez = probeUrl(deployment(manifests, app), 'livenessProbe');
        const probePort = key === 'cartaForwardauth' ? world.cartaProbePort : world.ports[key];
        expect(new URL(readyz).port).toBe(String(probePort));
        const workDir = mkdtempSync(join(tmpdir(), `kube-play-${app}-`));
        const created: string[] = [];
        let podId = '';
        const file = join(workDir, 'deployment.yaml');
        try {
          for (const [name, { data, usedByEnv }] of secrets) {
            const secretFile = join(workDir, `${name}.json`);
            writeFileSync(secretFile, podmanSecret(name, data, usedByEnv));
            podman(['secret', 'create', name, secretFile]);
            created.push(name);
          }
          const configMaps = join(workDir, 'configmaps.yaml');
          writeFileSync(
            configMaps,
            stringify({
              apiVersion: 'v1',
              kind: 'ConfigMap',
              metadata: { name: 'kube-root-ca.crt' },
              data: { 'ca.crt': world.kube.caPem },
            }),
          );
          writeFileSync(file, stringify(d));
          const out = podman(['kube', 'play', '--configmap', configMaps, file]);
          podId = /Pod:\s*\n([0-9a-f]{12,})/.exec(out)?.[1] ?? '';
          expect(podId).not.toBe('');

          const base = `http://127.0.0.1:${world.ports[key]}`;
          const ready = await until(async () => (await fetch(readyz)).status === 200, 180_000);
          if (!ready) throw new Error(`${app} never became ready:\n${podLogs(podId)}`);
          expect((await fetch(livez)).status).toBe(200);
          if (key === 'cartaForwardauth') {
            // On the decision port a /readyz is a request like any other: no session named, denied.
            const res = await fetch(`${base}/readyz`);
            expect(res.status).toBe(403);
            expect(((await res.json()) as { error: { code: string } }).error.code).toBe('forbidden');
          }
          if (key === 'tokenServer') {
            // The shared secret came through the chart's Secret file mount (AZD_AUTH_SECRET_FILE).
            const res = await fetch(
              `${base}/token?scope=${encodeURIComponent('https://vault.azure.net/.default')}`,
              {
                headers: { authorization: `Bearer ${SHARED_SECRET}` },
              },
            );
            const body = await res.text();
            if (res.status !== 200) throw new Error(`GET /token: ${res.status} ${body}\n${podLogs(podId)}`);
            expect((JSON.parse(body) as { access_token?: string }).access_token).toMatch(/^eyJ/);
          }
        } finally {
          // Removes what the play created, also when it failed half-way.
          spawnSync('podman', ['kube', 'play', '--down', file], { env: podmanEnv });
          if (podId) spawnSync('podman', ['pod', 'rm', '-f', podId], { env: podmanEnv });
          for (const name of created) spawnSync('podman', ['secret', 'rm', name], { env: podmanEnv });
          rmSync(workDir, { recursive: true, force: true });
        }
      },
      300_000,
    );
  }
});

function podLogs(podId: string): string {
  const ids = podman(['ps', '-a', '--filter', `pod=${podId}`, '--format', '{{.ID}}'])
    .split('\n')
    .filter(Boolean);
  return ids
    .map((id) => {
      const logs = spawnSync('podman', ['logs', id], { env: podmanEnv, encoding: 'utf8' });
      return logs.stdout + logs.stderr;
    })
    .join('\n');
}
