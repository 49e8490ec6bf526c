// Least privilege, as rendered: one identity per app, the API token only where the API is called
// with it, every secret from a Secret you manage, token-server private unless told otherwise, and
// the Azure IDs demanded at render time instead of an exit 78 in the pod.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { chartDir, type Manifest } from './support/repo.js';
import {
  ALL_APPS_MINIMAL,
  APPS,
  AZURE,
  deployment,
  envMap,
  forApp,
  hasApp,
  mainContainer,
  notes,
  ofKind,
  render,
  renderError,
  type AppKey,
} from './support/helm.js';

const ENTRA_APPS: AppKey[] = ['promSidecar', 'openaiProxy', 'tokenServer', 'aksBroker'];

describe('helm chart: one identity per app', () => {
  const manifests = render(ALL_APPS_MINIMAL, {
    apps: {
      promSidecar: { azure: { clientId: 'prom-client' } },
      openaiProxy: { azure: { clientId: 'openai-client' } },
    },
  });

  it('gives every app its own ServiceAccount, used by its own pods only', () => {
    const accounts = ofKind(manifests, 'ServiceAccount');
    expect(accounts).toHaveLength(5);
    expect(new Set(accounts.map((a) => a.metadata.name)).size).toBe(5);
    for (const app of Object.values(APPS)) {
      const sa = forApp(manifests, 'ServiceAccount', app);
      expect(sa.metadata.name).toBe(`release-auth-sidecars-${app}`);
      expect(deployment(manifests, app).spec.template.spec.serviceAccountName).toBe(sa.metadata.name);
    }
  });

  it("annotates each Entra app's ServiceAccount with that app's client id (its own, else the shared one)", () => {
    const clientId = (app: string) =>
      forApp(manifests, 'ServiceAccount', app).metadata.annotations?.['azure.workload.identity/client-id'];
    expect(clientId('prom-sidecar')).toBe('prom-client');
    expect(clientId('openai-proxy')).toBe('openai-client');
    expect(clientId('token-server')).toBe(AZURE.azure.clientId);
    expect(clientId('aks-broker')).toBe(AZURE.azure.clientId);
    // The pod's AZURE_CLIENT_ID agrees with its ServiceAccount.
    expect(envMap(mainContainer(deployment(manifests, 'prom-sidecar'))).get('AZURE_CLIENT_ID')?.value).toBe(
      'prom-client',
    );
    // carta-forwardauth holds no Entra credential: no workload identity on it at all.
    const carta = forApp(manifests, 'ServiceAccount', 'carta-forwardauth');
    expect(carta.metadata.annotations?.['azure.workload.identity/client-id']).toBeUndefined();
    expect(
      deployment(manifests, 'carta-forwardauth').spec.template.metadata.labels['azure.workload.identity/use'],
    ).toBeUndefined();
  });

  it("binds carta-forwardauth's read-only Role to carta-forwardauth's ServiceAccount and no other", () => {
    const role = ofKind(manifests, 'Role')[0] as unknown as {
      metadata: { namespace: string };
      rules: unknown[];
    };
    expect(role.metadata.namespace).toBe('skaha-workload');
    expect(role.rules).toEqual([
      { apiGroups: [''], resources: ['pods', 'services'], verbs: ['get', 'list', 'watch'] },
    ]);
    const bindings = ofKind(manifests, 'RoleBinding') as unknown as Array<{
      subjects: Array<{ kind: string; name: string; namespace: string }>;
    }>;
    expect(bindings).toHaveLength(1);
    expect(bindings[0]!.subjects).toEqual([
      { kind: 'ServiceAccount', name: 'release-auth-sidecars-carta-forwardauth', namespace: 'auth' },
    ]);
    expect(ofKind(manifests, 'ClusterRole')).toHaveLength(0);
    expect(ofKind(manifests, 'ClusterRoleBinding')).toHaveLength(0);
  });

  it('uses an existing ServiceAccount by name when told not to create one', () => {
    const reuse = render(ALL_APPS_MINIMAL, {
      apps: { cartaForwardauth: { serviceAccount: { create: false, name: 'carta-sa' } } },
    });
    expect(hasApp(reuse, 'ServiceAccount', 'carta-forwardauth')).toBe(false);
    expect(deployment(reuse, 'carta-forwardauth').spec.template.spec.serviceAccountName).toBe('carta-sa');
    const binding = ofKind(reuse, 'RoleBinding')[0] as unknown as { subjects: Array<{ name: string }> };
    expect(binding.subjects[0]!.name).toBe('carta-sa');
  });
});

describe('helm chart: the ServiceAccount token only where the API is called with it', () => {
  const manifests = render(ALL_APPS_MINIMAL);

  it('mounts the token into carta-forwardauth only', () => {
    for (const app of Object.values(APPS)) {
      const expected = app === 'carta-forwardauth';
      expect(deployment(manifests, app).spec.template.spec.automountServiceAccountToken).toBe(expected);
      expect(
        (forApp(manifests, 'ServiceAccount', app) as Manifest & { automountServiceAccountToken: boolean })
          .automountServiceAccountToken,
      ).toBe(expected);
    }
  });

  it("gives aks-broker the cluster CA without a token: it calls the API with each user's token", () => {
    const pod = deployment(manifests, 'aks-broker').spec.template.spec;
    expect(pod.volumes).toContainEqual({
      name: 'kube-ca',
      configMap: { name: 'kube-root-ca.crt', items: [{ key: 'ca.crt', path: 'ca.crt' }] },
    });
    const c = mainContainer(deployment(manifests, 'aks-broker'));
    expect(c.volumeMounts).toContainEqual({
      name: 'kube-ca',
      mountPath: '/var/run/secrets/auth-sidecars/kube-ca',
      readOnly: true,
    });
    expect(envMap(c).get('KUBE_CA_FILE')?.value).toBe('/var/run/secrets/auth-sidecars/kube-ca/ca.crt');
    // With its token mounted after all, the standard CA path is there and nothing extra is added.
    const mounted = deployment(
      render(ALL_APPS_MINIMAL, {
        apps: { aksBroker: { serviceAccount: { automountServiceAccountToken: true } } },
      }),
      'aks-broker',
    );
    expect(mounted.spec.template.spec.volumes?.map((v) => v.name)).not.toContain('kube-ca');
    expect(envMap(mainContainer(mounted)).has('KUBE_CA_FILE')).toBe(false);
  });
});

describe('helm chart: every secret has an existingSecret form', () => {
  const deploymentsText = (manifests: Manifest[]) => JSON.stringify(ofKind(manifests, 'Deployment'));

  it('takes the Redis password from a Secret and lets Kubernetes put it into REDIS_URL', () => {
    const manifests = render(ALL_APPS_MINIMAL, {
      apps: {
        aksBroker: {
          replicas: 2,
          redisUrl: 'redis://cache-user@redis.auth.svc:6379/2',
          redisPassword: { existingSecret: 'redis-auth', key: 'password' },
        },
      },
    });
    const env = mainContainer(deployment(manifests, 'aks-broker')).env!;
    const names = env.map((e) => e.name);
    expect(names.indexOf('REDIS_PASSWORD')).toBeLessThan(names.indexOf('REDIS_URL'));
    const byName = envMap(mainContainer(deployment(manifests, 'aks-broker')));
    expect(byName.get('REDIS_PASSWORD')?.valueFrom).toEqual({
      secretKeyRef: { name: 'redis-auth', key: 'password' },
    });
    expect(byName.get('REDIS_URL')?.value).toBe('redis://cache-user:$(REDIS_PASSWORD)@redis.auth.svc:6379/2');
    // A password inside redisUrl as well is refused: it would sit in the Deployment in clear.
    expect(
      renderError(ALL_APPS_MINIMAL, {
        apps: { aksBroker: { redisUrl: 'redis://u:p@redis:6379', redisPassword: { existingSecret: 'x' } } },
      }),
    ).toMatch(/keep the password in redisPassword only/);
  });

  it('takes AZURE_CLIENT_SECRET from an existing Secret, or from a chart-made one for an inline value', () => {
    const existing = render(ALL_APPS_MINIMAL, {
      apps: { promSidecar: { azure: { clientSecret: { existingSecret: 'prom-entra', key: 'secret' } } } },
    });
    expect(
      envMap(mainContainer(deployment(existing, 'prom-sidecar'))).get('AZURE_CLIENT_SECRET')?.valueFrom,
    ).toEqual({
      secretKeyRef: { name: 'prom-entra', key: 'secret' },
    });
    expect(hasApp(existing, 'Secret', 'prom-sidecar')).toBe(false);

    const inline = render(ALL_APPS_MINIMAL, {
      apps: { promSidecar: { azure: { clientSecret: { value: 'inline-entra-secret' } } } },
    });
    const ref = envMap(mainContainer(deployment(inline, 'prom-sidecar'))).get('AZURE_CLIENT_SECRET')
      ?.valueFrom?.secretKeyRef;
    const secret = forApp(inline, 'Secret', 'prom-sidecar') as Manifest & { data: Record<string, string> };
    expect(ref?.name).toBe(secret.metadata.name);
    expect(Buffer.from(secret.data[ref!.key]!, 'base64').toString()).toBe('inline-entra-secret');
    expect(deploymentsText(inline)).not.toContain('inline-entra-secret');
  });

  it('mounts TOKEN_SERVER_CLIENTS from an existing Secret as a file (re-read on rotation)', () => {
    const manifests = render(ALL_APPS_MINIMAL, {
      apps: { tokenServer: { clients: { existingSecret: 'ts-clients', key: 'policy.json' } } },
    });
    const d = deployment(manifests, 'token-server');
    const env = envMap(mainContainer(d));
    expect(env.get('TOKEN_SERVER_CLIENTS_FILE')?.value).toBe(
      '/var/run/secrets/auth-sidecars/clients/clients.json',
    );
    expect(env.has('TOKEN_SERVER_CLIENTS')).toBe(false);
    expect(d.spec.template.spec.volumes).toContainEqual({
      name: 'clients',
      secret: { secretName: 'ts-clients', items: [{ key: 'policy.json', path: 'clients.json' }] },
    });
    expect(mainContainer(d).volumeMounts).toContainEqual({
      name: 'clients',
      mountPath: '/var/run/secrets/auth-sidecars/clients',
      readOnly: true,
    });
  });

  it('keeps inline secrets out of every Deployment, rolls the pods when one changes, and warns in NOTES', () => {
    const inline = {
      ...AZURE,
      apps: {
        openaiProxy: {
          enabled: true,
          apiBaseUrl: 'https://example.openai.azure.com',
          certificate: { value: 'PEM-INLINE' },
        },
        tokenServer: {
          enabled: true,
          sharedSecret: { value: 'shared-secret-inline-value' },
          clients: { value: '{"clients":[]}' },
        },
        aksBroker: {
          enabled: true,
          replicas: 2,
          publicUrl: 'https://broker.example.com',
          redisUrl: 'redis://redis:6379',
          redisPassword: { value: 'redis-inline-password' },
          secrets: {
            sessionSecret: 'session-secret-inline-0123456789abcdef',
            cacheEncryptionKey: 'MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=',
          },
        },
      },
    };
    const manifests = render(inline);
    const text = deploymentsText(manifests);
    for (const value of [
      'PEM-INLINE',
      'shared-secret-inline-value',
      'redis-inline-password',
      'session-secret-inline',
      'MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=',
    ]) {
      expect(text).not.toContain(value);
    }
    const data = (app: string) =>
      (forApp(manifests, 'Secret', app) as Manifest & { data: Record<string, string> }).data;
    // Keyed by the file each value is mounted as.
    expect(Object.keys(data('token-server')).sort()).toEqual(['clients.json', 'secret']);
    expect(Object.keys(data('openai-proxy'))).toEqual(['cert.pem']);
    expect(Object.keys(data('aks-broker')).sort()).toEqual([
      'cache-encryption-key',
      'redis-password',
      'session-secret',
    ]);

    const checksum = (m: Manifest[]) =>
      deployment(m, 'token-server').spec.template.metadata.annotations?.['checksum/secret'];
    const rotated = render(inline, {
      apps: { tokenServer: { sharedSecret: { value: 'another-shared-secret-value' } } },
    });
    expect(checksum(rotated)).not.toBe(checksum(manifests));
    // Only the app whose secret changed rolls.
    const brokerChecksum = (m: Manifest[]) =>
      deployment(m, 'aks-broker').spec.template.metadata.annotations?.['checksum/secret'];
    expect(brokerChecksum(rotated)).toBe(brokerChecksum(manifests));

    expect(notes(inline)).toContain(
      'inline secrets (apps.aksBroker.secrets.cacheEncryptionKey, apps.aksBroker.redisPassword.value, ' +
        'apps.aksBroker.secrets.sessionSecret, apps.openaiProxy.certificate.value, apps.tokenServer.clients.value, ' +
        'apps.tokenServer.sharedSecret.value) sit in your values',
    );
    expect(notes('all-apps-values.yaml')).not.toMatch(/inline secrets/);
  });
});

describe('helm chart: token-server is private unless TLS is set or the user says otherwise', () => {
  it('binds to loopback by default: no Service, probes from inside the container, no ingress, no test pod', () => {
    const manifests = render('tokenServer-values.yaml');
    const c = mainContainer(deployment(manifests, 'token-server'));
    expect(envMap(c).get('HOST')?.value).toBe('127.0.0.1');
    expect(hasApp(manifests, 'Service', 'token-server')).toBe(false);
    for (const probe of [c.livenessProbe, c.readinessProbe, c.startupProbe]) {
      expect(probe?.httpGet).toBeUndefined();
      expect(probe?.exec?.command.slice(0, 2)).toEqual(['node', '-e']);
      expect(probe?.exec?.command[2]).toMatch(/^fetch\('http:\/\/127\.0\.0\.1:8080\/(livez|readyz)'\)/);
    }
    expect(c.readinessProbe?.exec?.command[2]).toContain('/readyz');
    const policy = forApp(manifests, 'NetworkPolicy', 'token-server') as unknown as {
      spec: { ingress: unknown[] };
    };
    expect(policy.spec.ingress).toEqual([]);
    expect(ofKind(manifests, 'Pod').filter((p) => p.metadata.name.includes('token-server'))).toHaveLength(0);
    expect(notes('tokenServer-values.yaml')).toMatch(
      /token-server listens on loopback \(no TLS\): other pods cannot reach it/,
    );
  });

  it('binds to 0.0.0.0 with TLS, and to what the user sets (with a warning when that is plaintext)', () => {
    const tls = render('tokenServer-values.yaml', {
      apps: { tokenServer: { tls: { existingSecret: 'ts-tls' } } },
    });
    expect(envValue(tls, 'HOST')).toBe('0.0.0.0');
    expect(hasApp(tls, 'Service', 'token-server')).toBe(true);

    const open = { apps: { tokenServer: { host: '0.0.0.0' } } };
    const plain = render('tokenServer-values.yaml', open);
    expect(envValue(plain, 'HOST')).toBe('0.0.0.0');
    expect(hasApp(plain, 'Service', 'token-server')).toBe(true);
    expect(notes('tokenServer-values.yaml', open)).toMatch(/token-server listens on 0\.0\.0\.0 without TLS/);
  });

  it('says so in the values comments', () => {
    const values = readFileSync(join(chartDir, 'values.yaml'), 'utf8');
    const hostComment = /(# -- HOST[^\n]*\n(?:\s*#[^\n]*\n)*)\s*host: ""/.exec(values)?.[1] ?? '';
    expect(hostComment).toMatch(/127\.0\.0\.1/);
    expect(hostComment).toMatch(/tls\.existingSecret/);
    expect(hostComment).toMatch(/0\.0\.0\.0/);
  });

  function envValue(manifests: Manifest[], name: string): string | undefined {
    return envMap(mainContainer(deployment(manifests, 'token-server'))).get(name)?.value;
  }
});

describe('helm chart: Azure IDs are required at render time for the apps that need them', () => {
  const enabledApp = (key: AppKey) => ({
    apps: { [key]: ALL_APPS_MINIMAL.apps[key] },
  });

  it.each(ENTRA_APPS)('%s without azure.tenantId or a client id fails, naming the value to set', (key) => {
    expect(renderError(enabledApp(key), { azure: { clientId: 'c' } })).toMatch(
      new RegExp(`apps\\.${key} needs the Entra tenant .*: set azure\\.tenantId`),
    );
    expect(renderError(enabledApp(key), { azure: { tenantId: 't' } })).toMatch(
      new RegExp(
        `apps\\.${key} needs an Entra client id .*: set apps\\.${key}\\.azure\\.clientId \\(or azure\\.clientId`,
      ),
    );
  });

  it('does not ask carta-forwardauth (no Entra credential) or a managed-identity app for them', () => {
    expect(deployment(render(enabledApp('cartaForwardauth')), 'carta-forwardauth')).toBeDefined();
    const mi = render(enabledApp('promSidecar'), { azure: { workloadIdentity: { enabled: false } } });
    expect(envMap(mainContainer(deployment(mi, 'prom-sidecar'))).has('AZURE_CLIENT_ID')).toBe(false);
    expect(notes(enabledApp('promSidecar'), { azure: { workloadIdentity: { enabled: false } } })).toMatch(
      /prom-sidecar has no workload identity, certificate or client secret/,
    );
  });

  it('fails, naming the value, for the other settings an app cannot start without', () => {
    const cases: Array<[object, RegExp]> = [
      [{ apps: { promSidecar: { enabled: true } } }, /apps\.promSidecar\.queryEndpoint is required/],
      [{ apps: { openaiProxy: { enabled: true } } }, /apps\.openaiProxy\.apiBaseUrl is required/],
      [
        { apps: { tokenServer: { enabled: true } } },
        /apps\.tokenServer needs a client: set apps\.tokenServer\.sharedSecret/,
      ],
      [
        { apps: { tokenServer: { enabled: true, sharedSecret: { value: 'short' } } } },
        /at least 16 characters/,
      ],
      [{ apps: { aksBroker: { enabled: true } } }, /apps\.aksBroker\.publicUrl is required/],
      [
        { apps: { aksBroker: { enabled: true, publicUrl: 'https://b.example' } } },
        /apps\.aksBroker\.secrets: set existingSecret .* or sessionSecret \(32\+ characters\)/,
      ],
      [
        {
          azure: { workloadIdentity: { enabled: false } },
          apps: { aksBroker: ALL_APPS_MINIMAL.apps.aksBroker },
        },
        /apps\.aksBroker signs users in with workload identity/,
      ],
    ];
    for (const [values, message] of cases) expect(renderError(AZURE, values)).toMatch(message);
  });
});
