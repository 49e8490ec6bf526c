// PATCH on the Kubernetes API stand-in through @kubernetes/client-node: merge patch, strategic merge
// patch and JSON patch of labels, each seen by a watch as MODIFIED; the status subresource;
// optimistic concurrency; RBAC on the patch verb; and the patch rules themselves.
import {
  CoreV1Api,
  KubeConfig,
  KubernetesObjectApi,
  PatchStrategy,
  setHeaderOptions,
  Watch,
  type V1Pod,
} from '@kubernetes/client-node';
import { startKubeApi, type KubeApi } from '../src/kube-api.js';
import { applyPatch, PatchError } from '../src/kube-api-patch.js';
import type { KubeObject } from '../src/kube-api-store.js';

const NS = 'skaha-workload';

let api: KubeApi;
let kc: KubeConfig;
let core: CoreV1Api;

beforeEach(async () => {
  api = await startKubeApi({ defaultNamespace: NS });
  kc = new KubeConfig();
  kc.loadFromString(api.kubeconfig());
  core = kc.makeApiClient(CoreV1Api);
  api.addPod({ name: 'carta-1', labels: { 'canfar.net/id': 'abc', 'canfar.net/username': 'alice' } });
});

afterEach(async () => {
  await api.close();
});

async function until(cond: () => boolean, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Watch events (type, labels) of the namespace's pods, from now on. */
async function watchPods() {
  const events: Array<{ type: string; labels: Record<string, string> | undefined }> = [];
  const req = await new Watch(kc).watch(
    `/api/v1/namespaces/${NS}/pods`,
    { resourceVersion: String(api.store.resourceVersion) },
    (type, obj: V1Pod) => events.push({ type, labels: obj.metadata?.labels }),
    () => undefined,
  );
  await until(() => api.watchCount() === 1);
  return { events, stop: () => req.abort() };
}

const patch = (body: object, contentType: string) =>
  core.patchNamespacedPod(
    { name: 'carta-1', namespace: NS, body },
    setHeaderOptions('Content-Type', contentType),
  );

describe('PATCH through @kubernetes/client-node', () => {
  it('merge patch adds, changes and removes labels; the watch sees MODIFIED each time', async () => {
    const watch = await watchPods();
    try {
      const changed = await patch(
        { metadata: { labels: { 'canfar.net/username': 'bob', tier: 'web' } } },
        PatchStrategy.MergePatch,
      );
      expect(changed.metadata?.labels).toEqual({
        'canfar.net/id': 'abc',
        'canfar.net/username': 'bob',
        tier: 'web',
      });
      const removed = await patch({ metadata: { labels: { tier: null } } }, PatchStrategy.MergePatch);
      expect(removed.metadata?.labels).toEqual({ 'canfar.net/id': 'abc', 'canfar.net/username': 'bob' });
      await until(() => watch.events.length === 2);
      expect(watch.events).toEqual([
        { type: 'MODIFIED', labels: { 'canfar.net/id': 'abc', 'canfar.net/username': 'bob', tier: 'web' } },
        { type: 'MODIFIED', labels: { 'canfar.net/id': 'abc', 'canfar.net/username': 'bob' } },
      ]);
      expect(api.get('pods', 'carta-1')?.metadata.labels).toEqual(removed.metadata?.labels);
      expect(api.requestLog.filter((e) => e.verb === 'patch').map((e) => e.status)).toEqual([200, 200]);
    } finally {
      watch.stop();
    }
  });

  it('strategic merge patch does the same for labels, and merges containers by name', async () => {
    const watch = await watchPods();
    try {
      const changed = await patch(
        {
          metadata: { labels: { 'canfar.net/username': 'carol', 'canfar.net/id': null } },
          spec: { containers: [{ name: 'main', image: 'carta:5' }] },
        },
        PatchStrategy.StrategicMergePatch,
      );
      expect(changed.metadata?.labels).toEqual({ 'canfar.net/username': 'carol' });
      expect(changed.spec?.containers).toEqual([{ name: 'main', image: 'carta:5' }]);
      await until(() => watch.events.length === 1);
      expect(watch.events[0]).toEqual({ type: 'MODIFIED', labels: { 'canfar.net/username': 'carol' } });
    } finally {
      watch.stop();
    }
  });

  it('JSON patch (client-node default) and KubernetesObjectApi.patch work too', async () => {
    const jsonPatched = await core.patchNamespacedPod({
      name: 'carta-1',
      namespace: NS,
      body: [{ op: 'replace', path: '/metadata/labels/canfar.net~1username', value: 'dave' }],
    });
    expect(jsonPatched.metadata?.labels?.['canfar.net/username']).toBe('dave');
    const objects = KubernetesObjectApi.makeApiClient(kc);
    const merged = await objects.patch(
      {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: 'carta-1', namespace: NS, labels: { extra: 'yes' } },
      },
      undefined,
      undefined,
      undefined,
      undefined,
      PatchStrategy.MergePatch,
    );
    expect(merged.metadata?.labels).toMatchObject({ 'canfar.net/username': 'dave', extra: 'yes' });
  });

  it('changes a pod phase through the status subresource, and only there', async () => {
    const failed = await core.patchNamespacedPodStatus(
      {
        name: 'carta-1',
        namespace: NS,
        body: { status: { phase: 'Failed' }, metadata: { labels: { x: 'y' } } },
      },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
    expect(failed.status?.phase).toBe('Failed');
    expect(failed.metadata?.labels?.x).toBeUndefined();
    const ignored = await patch({ status: { phase: 'Running' } }, PatchStrategy.MergePatch);
    expect(ignored.status?.phase).toBe('Failed');
    expect((await core.readNamespacedPodStatus({ name: 'carta-1', namespace: NS })).status?.phase).toBe(
      'Failed',
    );
  });

  it('refuses a stale resourceVersion (409), an unknown patch type (415) and a missing pod (404)', async () => {
    await expect(
      patch({ metadata: { resourceVersion: '1', labels: { a: 'b' } } }, PatchStrategy.MergePatch),
    ).rejects.toMatchObject({ code: 409 });
    const current = api.get('pods', 'carta-1')!.metadata.resourceVersion;
    const fresh = await patch(
      { metadata: { resourceVersion: current, labels: { a: 'b' } } },
      PatchStrategy.MergePatch,
    );
    expect(fresh.metadata?.labels?.a).toBe('b');
    await expect(patch({ metadata: {} }, PatchStrategy.ServerSideApply)).rejects.toMatchObject({ code: 415 });
    await expect(
      core.patchNamespacedPod(
        { name: 'nope', namespace: NS, body: { metadata: {} } },
        setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
      ),
    ).rejects.toMatchObject({ code: 404 });
  });

  it('asks the authorizer for the patch verb', async () => {
    api.setAuthorizer((a) => a.verb !== 'patch' || a.user.username === 'kubernetes-admin');
    const reader = new KubeConfig();
    reader.loadFromString(api.kubeconfig('reader'));
    await expect(
      reader
        .makeApiClient(CoreV1Api)
        .patchNamespacedPod(
          { name: 'carta-1', namespace: NS, body: { metadata: { labels: { a: 'b' } } } },
          setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
        ),
    ).rejects.toMatchObject({ code: 403 });
    expect(api.get('pods', 'carta-1')?.metadata.labels?.a).toBeUndefined();
  });
});

describe('patch rules', () => {
  const pod = (): KubeObject => ({
    metadata: { name: 'p', labels: { a: '1', b: '2' } },
    spec: {
      containers: [
        { name: 'main', image: 'x:1', env: [{ name: 'A', value: '1' }] },
        { name: 'side', image: 'y:1' },
      ],
    },
  });

  it('strategic merge: keyed lists merge, $patch directives delete or replace, other lists replace', () => {
    const out = applyPatch('application/strategic-merge-patch+json', pod(), {
      $setElementOrder: { containers: [{ name: 'main' }] },
      spec: {
        containers: [
          { name: 'main', env: [{ name: 'B', value: '2' }] },
          { name: 'side', $patch: 'delete' },
        ],
      },
      metadata: { finalizers: ['x'] },
    });
    expect(out.spec?.containers).toEqual([
      {
        name: 'main',
        image: 'x:1',
        env: [
          { name: 'A', value: '1' },
          { name: 'B', value: '2' },
        ],
      },
    ]);
    expect(out.metadata.finalizers).toEqual(['x']);
    const replaced = applyPatch('application/strategic-merge-patch+json', pod(), {
      metadata: { labels: { $patch: 'replace', c: '3' } },
    });
    expect(replaced.metadata.labels).toEqual({ c: '3' });
  });

  it('merge patch replaces lists whole; JSON patch test guards its operations', () => {
    const out = applyPatch('application/merge-patch+json', pod(), {
      spec: { containers: [{ name: 'only' }] },
    });
    expect(out.spec?.containers).toEqual([{ name: 'only' }]);
    expect(() =>
      applyPatch('application/json-patch+json', pod(), [
        { op: 'test', path: '/metadata/labels/a', value: '9' },
        { op: 'remove', path: '/metadata/labels/a' },
      ]),
    ).toThrow(PatchError);
    expect(() => applyPatch('application/merge-patch+json', pod(), [])).toThrow(/JSON object/);
    expect(() => applyPatch('application/merge-patch+json', pod(), { metadata: null })).toThrow(/metadata/);
  });
});
