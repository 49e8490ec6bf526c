import { request as httpsRequest } from 'node:https';
import { CoreV1Api, KubeConfig, Watch, makeInformer, type V1Pod } from '@kubernetes/client-node';
import { startKubeApi, type KubeApi } from '../src/kube-api.js';
import { parseLabelSelector } from '../src/kube-api-selectors.js';
import { until } from '../src/wait.js';

const NS = 'skaha-workload';

function client(api: KubeApi, user?: string): { kc: KubeConfig; core: CoreV1Api } {
  const kc = new KubeConfig();
  kc.loadFromString(api.kubeconfig(user));
  return { kc, core: kc.makeApiClient(CoreV1Api) };
}

interface Event {
  type: string;
  name: string;
  rv: string;
}

function watchInto(kc: KubeConfig, path: string, params: Record<string, string>) {
  const events: Event[] = [];
  let ended: unknown = 'open';
  const started = new Watch(kc).watch(
    path,
    params,
    (type, obj: { metadata?: { name?: string; resourceVersion?: string }; code?: number }) =>
      events.push({
        type,
        name: obj.metadata?.name ?? String(obj.code),
        rv: obj.metadata?.resourceVersion ?? '',
      }),
    (err) => (ended = err ?? null),
  );
  return { events, ended: () => ended, started };
}

describe('label selectors', () => {
  it('supports equality, inequality, set-based and existence requirements', () => {
    const labels = { app: 'carta', 'canfar.net/id': 'abc', tier: 'web' };
    expect(parseLabelSelector('app=carta,canfar.net/id')(labels)).toBe(true);
    expect(parseLabelSelector('app==carta,tier!=db')(labels)).toBe(true);
    expect(parseLabelSelector('app in (carta, notebook),!missing')(labels)).toBe(true);
    expect(parseLabelSelector('app notin (carta)')(labels)).toBe(false);
    expect(parseLabelSelector('missing')(labels)).toBe(false);
    expect(parseLabelSelector('tier=db')(labels)).toBe(false);
    expect(() => parseLabelSelector('a b c')).toThrow();
  });
});

describe('Kubernetes API stand-in through @kubernetes/client-node', () => {
  let api: KubeApi;
  beforeEach(async () => {
    api = await startKubeApi({ defaultNamespace: NS });
  });
  afterEach(async () => {
    await api.close();
  });

  it('lists pods with a label selector over HTTPS with its own CA', async () => {
    api.addPod({ name: 'a', labels: { 'canfar.net/id': 'aaa', 'canfar.net/username': 'alice' } });
    api.addPod({ name: 'b', labels: { 'canfar.net/id': 'bbb' } });
    api.addPod({
      name: 'c',
      namespace: 'other',
      labels: { 'canfar.net/id': 'ccc', 'canfar.net/username': 'carol' },
    });
    const { core } = client(api);
    const list = await core.listNamespacedPod({
      namespace: NS,
      labelSelector: 'canfar.net/id,canfar.net/username',
    });
    expect(list.items.map((p) => p.metadata?.name)).toEqual(['a']);
    expect(Number(list.metadata?.resourceVersion)).toBeGreaterThan(0);
    const all = await core.listPodForAllNamespaces({ labelSelector: 'canfar.net/id in (aaa,ccc)' });
    expect(all.items.map((p) => p.metadata?.name).sort()).toEqual(['a', 'c']);
    const byName = await core.listNamespacedPod({ namespace: NS, fieldSelector: 'metadata.name=b' });
    expect(byName.items.map((p) => p.metadata?.name)).toEqual(['b']);
    const pod = await core.readNamespacedPod({ namespace: NS, name: 'a' });
    expect(pod.metadata?.labels?.['canfar.net/username']).toBe('alice');
    expect(api.requestLog.filter((e) => e.verb === 'list')).toHaveLength(3);
    expect(api.requestLog.find((e) => e.verb === 'get')).toMatchObject({
      resource: 'pods',
      namespace: NS,
      name: 'a',
      status: 200,
      user: 'kubernetes-admin',
    });
  });

  it('rejects unknown tokens with 401 and unauthorized requests with a 403 Status', async () => {
    const kc = new KubeConfig();
    kc.loadFromString(api.kubeconfig('alice').replace(/token: ".*"/, 'token: "nope"'));
    await expect(kc.makeApiClient(CoreV1Api).listNamespacedPod({ namespace: NS })).rejects.toMatchObject({
      code: 401,
    });

    api.setAuthorizer(
      (a) => a.user.username !== 'bob' || (a.resource === 'pods' && a.namespace === 'bob-ns'),
    );
    const { core } = client(api, 'bob');
    const err = await core
      .listNamespacedService({ namespace: NS })
      .catch((e: { code: number; body: string }) => e);
    expect(err).toMatchObject({ code: 403 });
    const status = JSON.parse((err as { body: string }).body);
    expect(status).toMatchObject({ kind: 'Status', reason: 'Forbidden', code: 403 });
    expect(status.message).toBe(
      'services is forbidden: User "bob" cannot list resource "services" in API group "" in the namespace "skaha-workload"',
    );
    await expect(core.listNamespacedPod({ namespace: 'bob-ns' })).resolves.toMatchObject({ items: [] });
  });

  it('streams ADDED/MODIFIED/DELETED with selector transitions and resumes from a resourceVersion', async () => {
    const { kc } = client(api);
    const w = watchInto(kc, `/api/v1/namespaces/${NS}/pods`, { labelSelector: 'session' });
    await w.started;
    await until(() => api.watchCount() === 1);
    const p = api.addPod({ name: 'p', labels: { session: 'x' } });
    api.updatePod('p', (o) => void (o.metadata.annotations = { touched: 'yes' }));
    api.updatePod('p', (o) => void delete o.metadata.labels!.session);
    api.updatePod('p', (o) => void (o.metadata.labels!.session = 'y'));
    api.deletePod('p');
    api.addPod({ name: 'unlabelled' });
    await until(() => w.events.length === 5);
    expect(w.events.map((e) => e.type)).toEqual(['ADDED', 'MODIFIED', 'DELETED', 'ADDED', 'DELETED']);

    // resume from the first version: everything after it, nothing before
    const resumed = watchInto(kc, `/api/v1/namespaces/${NS}/pods`, {
      labelSelector: 'session',
      resourceVersion: p.metadata.resourceVersion!,
    });
    await until(() => resumed.events.length === 4);
    expect(resumed.events.map((e) => e.type)).toEqual(['MODIFIED', 'DELETED', 'ADDED', 'DELETED']);
    const request = api.requestLog.find((e) => e.watch);
    expect(request).toMatchObject({ verb: 'watch', resource: 'pods', namespace: NS, status: 200 });
    api.endWatches();
    await until(() => w.ended() === null && resumed.ended() === null);
  });

  it('answers a watch from a compacted version with a 410 ERROR event, or a 410 Status when configured', async () => {
    const first = api.addPod({ name: 'a', labels: { session: 'x' } });
    api.addPod({ name: 'b', labels: { session: 'y' } });
    api.compact();
    const { kc } = client(api);
    const w = watchInto(kc, `/api/v1/namespaces/${NS}/pods`, {
      resourceVersion: first.metadata.resourceVersion!,
    });
    await until(() => w.ended() !== 'open');
    expect(w.events).toEqual([{ type: 'ERROR', name: '410', rv: '' }]);

    const strict = await startKubeApi({ staleWatch: 'status' });
    try {
      strict.addPod({ name: 'a' });
      strict.compact();
      const s = client(strict);
      const sw = watchInto(s.kc, '/api/v1/namespaces/default/pods', { resourceVersion: '1' });
      await until(() => sw.ended() !== 'open');
      expect(sw.ended()).toMatchObject({ statusCode: 410 });
    } finally {
      await strict.close();
    }
  });

  it('ends watches after timeoutSeconds and can break them mid-stream', async () => {
    const { kc } = client(api);
    const timed = watchInto(kc, `/api/v1/namespaces/${NS}/pods`, { timeoutSeconds: '1' });
    const t0 = Date.now();
    await until(() => timed.ended() !== 'open', 3000);
    expect(timed.ended()).toBeNull();
    expect(Date.now() - t0).toBeGreaterThanOrEqual(900);

    const broken = watchInto(kc, `/api/v1/namespaces/${NS}/pods`, {});
    await until(() => api.watchCount() === 1);
    api.breakWatches();
    await until(() => broken.ended() !== 'open');
    expect(broken.ended()).toBeInstanceOf(Error);
  });

  it('goes down (connection refused) and comes back on the same URL', async () => {
    const { core } = client(api);
    await api.setDown(true);
    await expect(core.listNamespacedPod({ namespace: NS })).rejects.toThrow();
    await api.setDown(false);
    await expect(core.listNamespacedPod({ namespace: NS })).resolves.toMatchObject({ kind: 'PodList' });
    api.failNext(1, 503);
    await expect(core.listNamespacedPod({ namespace: NS })).rejects.toMatchObject({ code: 503 });
  });

  it('feeds an informer from makeInformer', async () => {
    const { kc, core } = client(api);
    api.addPod({ name: 'before', labels: { session: 'x' } });
    const informer = makeInformer<V1Pod>(
      kc,
      `/api/v1/namespaces/${NS}/pods`,
      () => core.listNamespacedPod({ namespace: NS, labelSelector: 'session' }),
      'session',
    );
    const seen: string[] = [];
    informer.on('add', (p) => seen.push(`add:${p.metadata?.name}`));
    informer.on('delete', (p) => seen.push(`delete:${p.metadata?.name}`));
    await informer.start();
    api.addPod({ name: 'after', labels: { session: 'y' } });
    api.deletePod('before');
    await until(() => seen.length === 3);
    expect(seen).toEqual(['add:before', 'add:after', 'delete:before']);
    await informer.stop();
  });
});

describe('stalled watches', () => {
  it('keep the connection but stop sending events; new watches are unaffected', async () => {
    const api = await startKubeApi();
    try {
      const { kc } = client(api);
      const stalled = watchInto(kc, '/api/v1/namespaces/default/pods', {});
      await until(() => api.watchCount() === 1);
      api.stallWatches();
      api.addPod({ name: 'a' });
      const fresh = watchInto(kc, '/api/v1/namespaces/default/pods', {});
      await until(() => fresh.events.length === 1);
      await new Promise((r) => setTimeout(r, 100));
      expect(stalled.events).toEqual([]);
      expect(stalled.ended()).toBe('open');
      api.endWatches();
    } finally {
      await api.close();
    }
  });
});

describe('extension points', () => {
  it('accepts extra routes (after authentication) and an authenticate hook for foreign tokens', async () => {
    const api = await startKubeApi({
      authenticate: (token) =>
        token.startsWith('jwt-') ? { username: token.slice(4), groups: ['entra'] } : undefined,
      authorize: (a) => a.user.username === 'kubernetes-admin' || a.namespace === 'team-a',
      extraRoutes: (router, kube) => {
        router.post('/apis/authorization.k8s.io/v1/selfsubjectrulesreviews', async (req, res) => {
          const user = res.locals.user as { username: string };
          const ns = (req.body as { spec?: { namespace?: string } }).spec?.namespace ?? '';
          const allowed = await kube.isAllowed({
            user,
            verb: 'list',
            apiGroup: '',
            resource: 'pods',
            namespace: ns,
            path: req.path,
          });
          res.status(201).json({
            kind: 'SelfSubjectRulesReview',
            status: { resourceRules: allowed ? [{ verbs: ['list'], resources: ['pods'] }] : [] },
          });
        });
      },
    });
    try {
      const post = (token: string, namespace: string) =>
        new Promise<{ status: number; json: () => Promise<unknown> }>((resolve, reject) => {
          const req = httpsRequest(
            `${api.url}/apis/authorization.k8s.io/v1/selfsubjectrulesreviews`,
            {
              method: 'POST',
              ca: api.caPem,
              headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
            },
            (res) => {
              let text = '';
              res.on('data', (c: Buffer) => (text += c.toString()));
              res.on('end', () =>
                resolve({ status: res.statusCode ?? 0, json: async () => JSON.parse(text) }),
              );
            },
          );
          req.on('error', reject);
          req.end(JSON.stringify({ spec: { namespace } }));
        });
      const ok = (await (await post('jwt-alice', 'team-a')).json()) as {
        status: { resourceRules: unknown[] };
      };
      expect(ok.status.resourceRules).toHaveLength(1);
      const no = (await (await post('jwt-alice', 'team-b')).json()) as {
        status: { resourceRules: unknown[] };
      };
      expect(no.status.resourceRules).toHaveLength(0);
      expect((await post('garbage', 'team-a')).status).toBe(401);
      expect(api.requestLog.at(-2)).toMatchObject({ user: 'alice', method: 'POST', status: 201 });
    } finally {
      await api.close();
    }
  });
});
