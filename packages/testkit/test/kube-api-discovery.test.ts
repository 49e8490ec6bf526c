// Discovery and Table answers of the Kubernetes API stand-in, read by @kubernetes/client-node (its
// discovery clients, and KubernetesObjectApi, which resolves kinds through /api/v1) and requested
// with kubectl's own Accept header for `kubectl get` and `kubectl get -w`.
import { request as httpsRequest } from 'node:https';
import {
  ApisApi,
  CoreApi,
  CoreV1Api,
  KubeConfig,
  KubernetesObjectApi,
  VersionApi,
  type V1Pod,
} from '@kubernetes/client-node';
import { startKubeApi, type KubeApi } from '../src/kube-api.js';
import { humanDuration } from '../src/kube-api-table.js';

/** What kubectl 1.30+ sends with `kubectl get`. */
const KUBECTL_TABLE_ACCEPT =
  'application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json';

let api: KubeApi;
let kc: KubeConfig;

beforeEach(async () => {
  api = await startKubeApi({
    resources: [
      { resource: 'deployments', kind: 'Deployment', group: 'apps', version: 'v1', namespaced: true },
    ],
  });
  kc = new KubeConfig();
  kc.loadFromString(api.kubeconfig());
});

afterEach(async () => {
  await api.close();
});

interface Raw {
  status: number;
  contentType: string | undefined;
  body: string;
}

/** A request as kubectl makes it; `untilLines` ends a watch after that many lines. */
function raw(path: string, headers: Record<string, string>, untilLines?: number): Promise<Raw> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(`${api.url}${path}`, { ca: api.caPem, headers }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => {
        body += c.toString('utf8');
        if (untilLines !== undefined && body.split('\n').length > untilLines) {
          resolve({ status: res.statusCode ?? 0, contentType: res.headers['content-type'], body });
          req.destroy();
        }
      });
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, contentType: res.headers['content-type'], body }),
      );
    });
    req.on('error', (err) => (untilLines === undefined ? reject(err) : undefined));
    req.end();
  });
}

const admin = () => ({ authorization: `Bearer ${api.adminToken}` });

describe('discovery', () => {
  it('serves /api, /apis, /api/v1 and /version to client-node discovery clients', async () => {
    const versions = await kc.makeApiClient(CoreApi).getAPIVersions();
    expect(versions.versions).toEqual(['v1']);
    expect(versions.serverAddressByClientCIDRs?.[0]?.serverAddress).toBe(`127.0.0.1:${api.port}`);

    const groups = await kc.makeApiClient(ApisApi).getAPIVersions();
    expect(groups.groups.map((g) => [g.name, g.preferredVersion?.groupVersion])).toEqual([
      ['apps', 'apps/v1'],
    ]);

    const core = await kc.makeApiClient(CoreV1Api).getAPIResources();
    expect(core.groupVersion).toBe('v1');
    const pods = core.resources.find((r) => r.name === 'pods');
    expect(pods).toMatchObject({ kind: 'Pod', namespaced: true, singularName: 'pod', shortNames: ['po'] });
    expect(pods?.verbs).toEqual(expect.arrayContaining(['get', 'list', 'watch', 'patch']));
    expect(core.resources.find((r) => r.name === 'services')?.shortNames).toEqual(['svc']);
    expect(core.resources.find((r) => r.name === 'namespaces')?.namespaced).toBe(false);
    expect(core.resources.find((r) => r.name === 'pods/status')?.verbs).toEqual(['get', 'patch', 'update']);

    const apps = await raw('/apis/apps/v1', admin());
    expect(JSON.parse(apps.body)).toMatchObject({
      kind: 'APIResourceList',
      groupVersion: 'apps/v1',
      resources: [
        expect.objectContaining({ name: 'deployments', kind: 'Deployment' }),
        expect.objectContaining({ name: 'deployments/status' }),
      ],
    });
    expect((await raw('/apis/batch/v1', admin())).status).toBe(404);
    expect((await kc.makeApiClient(VersionApi).getCode()).major).toBe('1');
  });

  it('answers discovery only to authenticated users (like the system:discovery binding)', async () => {
    for (const path of ['/api', '/apis', '/api/v1']) {
      const res = await raw(path, {});
      expect([path, res.status]).toEqual([path, 401]);
    }
  });

  it('lets KubernetesObjectApi resolve a kind to its resource through discovery', async () => {
    api.addPod({ name: 'web-0', namespace: 'default', labels: { app: 'web' } });
    const objects = KubernetesObjectApi.makeApiClient(kc);
    const pod = await objects.read<V1Pod>({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'web-0', namespace: 'default' },
    });
    expect(pod.metadata?.labels).toEqual({ app: 'web' });
    expect(api.requestLog.some((e) => e.path === '/api/v1' && e.status === 200)).toBe(true);
  });
});

describe('Tables for kubectl get', () => {
  it('lists pods and services with the columns kubectl prints, in the Table content type', async () => {
    api.addPod({ name: 'web-0', namespace: 'default' });
    api.addPod({ name: 'db-0', namespace: 'default', phase: 'Pending' });
    api.addService({ name: 'web', namespace: 'default', selector: { app: 'web' } });
    const pods = await raw('/api/v1/namespaces/default/pods?limit=500', {
      ...admin(),
      accept: KUBECTL_TABLE_ACCEPT,
    });
    expect(pods.contentType).toBe('application/json;as=Table;v=v1;g=meta.k8s.io');
    const table = JSON.parse(pods.body) as {
      kind: string;
      columnDefinitions: Array<{ name: string; priority: number }>;
      rows: Array<{ cells: unknown[]; object: { kind: string; metadata: { name: string } } }>;
    };
    expect(table.kind).toBe('Table');
    expect(table.columnDefinitions.filter((c) => c.priority === 0).map((c) => c.name)).toEqual([
      'Name',
      'Ready',
      'Status',
      'Restarts',
      'Age',
    ]);
    expect(table.rows.map((r) => r.cells.slice(0, 4))).toEqual([
      ['web-0', '1/1', 'Running', '0'],
      ['db-0', '0/1', 'Pending', '0'],
    ]);
    expect(table.rows[0]?.object).toMatchObject({
      kind: 'PartialObjectMetadata',
      metadata: { name: 'web-0' },
    });

    const svc = JSON.parse(
      (await raw('/api/v1/namespaces/default/services', { ...admin(), accept: KUBECTL_TABLE_ACCEPT })).body,
    ) as { rows: Array<{ cells: unknown[] }> };
    expect(svc.rows[0]?.cells).toEqual([
      'web',
      'ClusterIP',
      '<none>',
      '<none>',
      '80/TCP',
      expect.any(String),
      'app=web',
    ]);

    // Plain JSON for clients that do not ask for a Table.
    const plain = await raw('/api/v1/namespaces/default/pods', { ...admin(), accept: 'application/json' });
    expect(JSON.parse(plain.body)).toMatchObject({ kind: 'PodList' });
  });

  it('watches with Table events: one row each, the column definitions only in the first', async () => {
    api.addPod({ name: 'web-0', namespace: 'default' });
    const list = JSON.parse(
      (await raw('/api/v1/namespaces/default/pods', { ...admin(), accept: KUBECTL_TABLE_ACCEPT })).body,
    ) as { metadata: { resourceVersion: string } };
    const watching = raw(
      `/api/v1/namespaces/default/pods?resourceVersion=${list.metadata.resourceVersion}&watch=true`,
      { ...admin(), accept: KUBECTL_TABLE_ACCEPT },
      2,
    );
    await waitFor(() => api.watchCount() === 1);
    api.updatePod('web-0', (p) => {
      p.status = { phase: 'Failed' };
    });
    api.addPod({ name: 'web-1', namespace: 'default' });
    const events = (await watching).body
      .split('\n')
      .filter(Boolean)
      .map(
        (l) =>
          JSON.parse(l) as {
            type: string;
            object: { kind: string; columnDefinitions: unknown[]; rows: Array<{ cells: unknown[] }> };
          },
      );
    expect(
      events.map((e) => [e.type, e.object.kind, e.object.rows[0]?.cells[0], e.object.rows[0]?.cells[2]]),
    ).toEqual([
      ['MODIFIED', 'Table', 'web-0', 'Failed'],
      ['ADDED', 'Table', 'web-1', 'Running'],
    ]);
    expect(events[0]?.object.columnDefinitions.length).toBeGreaterThan(0);
    expect(events[1]?.object.columnDefinitions).toEqual([]);
  });

  it('prints ages as kubectl does', () => {
    expect(
      [5_000, 125_000, 600_000, 3 * 3600_000 + 60_000, 49 * 3600_000, 400 * 86_400_000, 800 * 86_400_000].map(
        humanDuration,
      ),
    ).toEqual(['5s', '2m5s', '10m', '3h1m', '2d1h', '400d', '2y70d']);
  });
});

async function waitFor(cond: () => boolean, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}
