import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { chartDir, helmBinary, parseManifests, type Manifest } from './support/repo.js';

const helm = helmBinary();
const scenarioFiles = readdirSync(join(chartDir, 'ci')).filter((f) => f.endsWith('-values.yaml'));
const scenarios: Array<[string, string[]]> = [
  ['default values', []],
  ...scenarioFiles.map((f): [string, string[]] => [f, ['-f', join(chartDir, 'ci', f)]]),
];

function render(args: string[]): Manifest[] {
  return parseManifests(
    execFileSync(helm, ['template', 'release', chartDir, '--namespace', 'auth', ...args], {
      encoding: 'utf8',
      stdio: 'pipe',
    }),
  );
}

/** kubernetes-models class for a manifest: core/v1 lives at `v1/Kind`, groups at `group/version/Kind`. */
async function modelFor(m: Manifest): Promise<new (data: unknown) => { validate(): void }> {
  const modulePath = `kubernetes-models/${m.apiVersion}/${m.kind}`;
  const mod = (await import(modulePath)) as Record<string, new (data: unknown) => { validate(): void }>;
  const model = mod[m.kind];
  if (!model) throw new Error(`no kubernetes-models class for ${m.apiVersion} ${m.kind}`);
  return model;
}

describe('helm chart', () => {
  it.each(scenarios)('lints cleanly with %s', (_name, args) => {
    expect(() =>
      execFileSync(helm, ['lint', chartDir, '--strict', ...args], { encoding: 'utf8' }),
    ).not.toThrow();
  });

  it.each(scenarios)(
    'renders manifests valid against the Kubernetes schemas with %s',
    async (_name, args) => {
      const manifests = render(args);
      expect(manifests.length).toBeGreaterThan(0);
      for (const m of manifests) {
        const Model = await modelFor(m);
        expect(() => new Model(m).validate()).not.toThrow();
      }
    },
  );

  it('renders one Deployment and Service per enabled app, hardened and probed', () => {
    const manifests = render(['-f', join(chartDir, 'ci/all-apps-values.yaml')]);
    const deployments = manifests.filter((m) => m.kind === 'Deployment');
    expect(deployments.map((d) => d.metadata.labels?.['app.kubernetes.io/name']).sort()).toEqual([
      'aks-broker',
      'carta-forwardauth',
      'openai-proxy',
      'prom-sidecar',
      'token-server',
    ]);
    expect(manifests.filter((m) => m.kind === 'Service')).toHaveLength(5);
    for (const d of deployments) {
      const pod = (
        d as unknown as {
          spec: { template: { metadata: { labels: Record<string, string> }; spec: PodSpec } };
        }
      ).spec.template;
      expect(pod.spec.securityContext.runAsNonRoot).toBe(true);
      expect(pod.metadata.labels['azure.workload.identity/use']).toBe('true');
      for (const c of pod.spec.containers) {
        expect(c.securityContext).toMatchObject({
          readOnlyRootFilesystem: true,
          allowPrivilegeEscalation: false,
        });
        expect(c.livenessProbe.httpGet.path).toBe('/livez');
        expect(c.readinessProbe.httpGet.path).toBe('/readyz');
      }
    }
  });

  it('gives carta-forwardauth a namespaced read-only Role and the ServiceAccount the workload identity annotation', () => {
    const manifests = render(['-f', join(chartDir, 'ci/all-apps-values.yaml')]);
    const role = manifests.find((m) => m.kind === 'Role') as unknown as {
      metadata: { namespace: string };
      rules: Array<{ resources: string[]; verbs: string[] }>;
    };
    expect(role.metadata.namespace).toBe('skaha-workload');
    expect(role.rules).toEqual([
      { apiGroups: [''], resources: ['pods', 'services'], verbs: ['get', 'list', 'watch'] },
    ]);
    const sa = manifests.find((m) => m.kind === 'ServiceAccount');
    expect(sa?.metadata.annotations?.['azure.workload.identity/client-id']).toBe(
      '00000000-0000-0000-0000-000000000002',
    );
    expect(manifests.filter((m) => m.kind === 'PodDisruptionBudget').length).toBeGreaterThan(0);
    expect(manifests.filter((m) => m.kind === 'NetworkPolicy')).toHaveLength(5);
  });

  it('probes carta-forwardauth on its probe port: on its http port every path is a decision', () => {
    const manifests = render(['-f', join(chartDir, 'ci/all-apps-values.yaml')]);
    const deployment = manifests.find(
      (m) => m.kind === 'Deployment' && m.metadata.name.endsWith('carta-forwardauth'),
    ) as unknown as {
      spec: {
        template: {
          spec: {
            containers: Array<{
              ports: Array<{ name: string; containerPort: number }>;
              env: Array<{ name: string; value?: string }>;
              livenessProbe: { httpGet: { port: string } };
              readinessProbe: { httpGet: { port: string } };
              startupProbe: { httpGet: { port: string } };
            }>;
          };
        };
      };
    };
    const c = deployment.spec.template.spec.containers[0]!;
    const probes = c.ports.find((p) => p.name === 'probes');
    expect(probes?.containerPort).toBe(8001);
    expect(c.env.find((e) => e.name === 'PROBE_PORT')?.value).toBe('8001');
    for (const probe of [c.livenessProbe, c.readinessProbe, c.startupProbe])
      expect(probe.httpGet.port).toBe('probes');
  });

  it('refuses values that the schema forbids or an enabled app without its required setting', () => {
    expect(() => render(['--set', 'apps.unknownApp.enabled=true'])).toThrow(/additional properties/);
    expect(() => render(['--set', 'apps.promSidecar.enabled=true'])).toThrow(/queryEndpoint is required/);
  });

  it('never puts an inline secret into a Deployment: it goes into a Secret and is mounted as a file', () => {
    const manifests = render([
      '-f',
      join(chartDir, 'ci/tokenServer-values.yaml'),
      '--set',
      'apps.tokenServer.sharedSecret.existingSecret=',
      '--set',
      'apps.tokenServer.sharedSecret.value=very-secret-value',
    ]);
    const deployment = JSON.stringify(manifests.find((m) => m.kind === 'Deployment'));
    expect(deployment).not.toContain('very-secret-value');
    const secret = manifests.find((m) => m.kind === 'Secret') as unknown as { data: Record<string, string> };
    expect(Buffer.from(Object.values(secret.data)[0]!, 'base64').toString()).toBe('very-secret-value');
  });
});

interface PodSpec {
  securityContext: { runAsNonRoot: boolean };
  containers: Array<{
    securityContext: Record<string, unknown>;
    livenessProbe: { httpGet: { path: string } };
    readinessProbe: { httpGet: { path: string } };
  }>;
}
