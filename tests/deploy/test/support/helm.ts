// Renders the chart with helm (template for manifests, a client-side dry-run install for NOTES.txt)
// and gives the tests typed views of what came out. Renders are cached per argument list: the same
// scenario is read by many tests.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jest } from '@jest/globals';
import { stringify } from 'yaml';
import { chartDir, helmBinary, parseManifests, type Manifest } from './repo.js';

// Each render runs helm as a child process: on a busy 2-core machine a test with a few renders can
// take tens of seconds, which says nothing about the chart.
jest.setTimeout(120_000);

export const helm = helmBinary();
export const RELEASE = 'release';
export const NAMESPACE = 'auth';

const valuesDir = mkdtempSync(join(tmpdir(), 'helm-values-'));

/** A values file holding `values`, for `-f`; named after its content, so equal values hit the render cache. */
export function valuesFile(values: object): string {
  const text = stringify(values);
  const file = join(valuesDir, `${createHash('sha256').update(text).digest('hex').slice(0, 16)}.yaml`);
  if (!existsSync(file)) writeFileSync(file, text);
  return file;
}

export const ci = (name: string): string => join(chartDir, 'ci', name);

/** `-f` arguments for a mix of ci scenario names (`x-values.yaml`) and inline values objects. */
export function valuesArgs(...sources: Array<string | object>): string[] {
  return sources.flatMap((s) => ['-f', typeof s === 'string' ? ci(s) : valuesFile(s)]);
}

const cache = new Map<string, Manifest[]>();

export function helmTemplate(args: string[], release = RELEASE, chart = chartDir): Manifest[] {
  const key = JSON.stringify([release, chart, args]);
  let manifests = cache.get(key);
  if (!manifests) {
    manifests = parseManifests(
      execFileSync(helm, ['template', release, chart, '--namespace', NAMESPACE, ...args], {
        encoding: 'utf8',
        stdio: 'pipe',
      }),
    );
    cache.set(key, manifests);
  }
  return manifests;
}

/** Manifests for ci scenarios and inline values, in order (later ones win). */
export function render(...sources: Array<string | object>): Manifest[] {
  return helmTemplate(valuesArgs(...sources));
}

/** The error helm prints when it refuses to render (schema or template `fail`). */
export function renderError(...sources: Array<string | object>): string {
  try {
    helmTemplate(valuesArgs(...sources));
  } catch (error) {
    return String((error as { stderr?: string }).stderr ?? error);
  }
  throw new Error('helm rendered the chart, but it was expected to refuse these values');
}

/** NOTES.txt as `helm install` prints it (client-side dry run: no cluster needed). */
export function notes(...sources: Array<string | object>): string {
  const out = execFileSync(
    helm,
    [
      'install',
      RELEASE,
      chartDir,
      '--namespace',
      NAMESPACE,
      '--dry-run=client',
      '-o',
      'json',
      ...valuesArgs(...sources),
    ],
    { encoding: 'utf8', stdio: 'pipe' },
  );
  return (JSON.parse(out) as { info: { notes: string } }).info.notes;
}

// Typed views of the objects the tests read.

export interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: { secretKeyRef?: { name: string; key: string } } & Record<string, unknown>;
}

export interface Probe {
  httpGet?: { path: string; port: string | number; scheme?: string };
  exec?: { command: string[] };
  periodSeconds?: number;
  timeoutSeconds?: number;
  failureThreshold?: number;
  initialDelaySeconds?: number;
}

export interface Container {
  name: string;
  image: string;
  command?: string[];
  env?: EnvVar[];
  envFrom?: unknown[];
  ports?: Array<{ name: string; containerPort: number }>;
  livenessProbe?: Probe;
  readinessProbe?: Probe;
  startupProbe?: Probe;
  lifecycle?: { preStop?: { sleep?: { seconds: number }; exec?: { command: string[] } } };
  securityContext?: Record<string, unknown>;
  volumeMounts?: Array<{ name: string; mountPath: string; readOnly?: boolean }>;
  restartPolicy?: string;
}

export interface Volume {
  name: string;
  secret?: { secretName: string; items?: Array<{ key: string; path: string }> };
  configMap?: { name: string; items?: Array<{ key: string; path: string }> };
  [key: string]: unknown;
}

export interface PodSpec {
  serviceAccountName?: string;
  automountServiceAccountToken?: boolean;
  securityContext?: Record<string, unknown>;
  containers: Container[];
  initContainers?: Container[];
  volumes?: Volume[];
  nodeSelector?: Record<string, string>;
  tolerations?: unknown[];
  affinity?: unknown;
  topologySpreadConstraints?: Array<Record<string, unknown>>;
  priorityClassName?: string;
  imagePullSecrets?: Array<{ name: string }>;
  terminationGracePeriodSeconds?: number;
  restartPolicy?: string;
}

export interface Deployment extends Manifest {
  spec: {
    replicas?: number;
    template: {
      metadata: { labels: Record<string, string>; annotations?: Record<string, string> };
      spec: PodSpec;
    };
  };
}

export const ofKind = <T extends Manifest = Manifest>(manifests: Manifest[], kind: string): T[] =>
  manifests.filter((m) => m.kind === kind) as T[];

/** The object of `kind` belonging to app `app` (by its app.kubernetes.io/name label). */
export function forApp<T extends Manifest = Manifest>(manifests: Manifest[], kind: string, app: string): T {
  const found = ofKind<T>(manifests, kind).filter(
    (m) => m.metadata.labels?.['app.kubernetes.io/name'] === app,
  );
  if (found.length !== 1) throw new Error(`expected one ${kind} of ${app}, found ${found.length}`);
  return found[0]!;
}

export const hasApp = (manifests: Manifest[], kind: string, app: string): boolean =>
  ofKind(manifests, kind).some((m) => m.metadata.labels?.['app.kubernetes.io/name'] === app);

export const deployment = (manifests: Manifest[], app: string): Deployment =>
  forApp<Deployment>(manifests, 'Deployment', app);

export const mainContainer = (d: Deployment): Container => d.spec.template.spec.containers[0]!;

export function envMap(c: Container): Map<string, EnvVar> {
  return new Map((c.env ?? []).map((e) => [e.name, e]));
}

export const envValue = (c: Container, name: string): string | undefined => envMap(c).get(name)?.value;

/** The values key of each app, and its name. */
export const APPS = {
  promSidecar: 'prom-sidecar',
  openaiProxy: 'openai-proxy',
  tokenServer: 'token-server',
  cartaForwardauth: 'carta-forwardauth',
  aksBroker: 'aks-broker',
} as const;
export type AppKey = keyof typeof APPS;

/** Azure IDs that satisfy every app's render-time check. */
export const AZURE = {
  azure: {
    tenantId: '00000000-0000-0000-0000-000000000001',
    clientId: '00000000-0000-0000-0000-000000000002',
  },
};

/** The least each app needs to render, with every app switched on. */
export const ALL_APPS_MINIMAL = {
  ...AZURE,
  apps: {
    promSidecar: { enabled: true, queryEndpoint: 'https://ws.eastus.prometheus.monitor.azure.com' },
    openaiProxy: { enabled: true, apiBaseUrl: 'https://example.openai.azure.com' },
    tokenServer: { enabled: true, sharedSecret: { existingSecret: 'ts' } },
    cartaForwardauth: { enabled: true },
    aksBroker: {
      enabled: true,
      publicUrl: 'https://broker.example.com',
      secrets: { existingSecret: 'broker' },
    },
  },
};
