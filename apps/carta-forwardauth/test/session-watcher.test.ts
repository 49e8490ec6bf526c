// The informer layer alone: watchdog resync against a silently stuck watch, list timeouts, and that a
// superseded generation never keeps a watch open.
import { createLogger } from '@auth-sidecars/service-kit';
import { startKubeApi, type KubeApi } from '@auth-sidecars/testkit/kube-api';
import { KubeConfig } from '@kubernetes/client-node';
import { PassThrough } from 'node:stream';
import { SessionIndex } from '../src/session-index.js';
import { labelSelectorFor, project, SessionWatcher, type WatcherOptions } from '../src/session-watcher.js';
import { NS, SA, sessionPod, until } from './helpers.js';

const spec = { kind: 'pods' as const, idLabel: 'canfar.net/id', userLabel: 'canfar.net/username' };
const logger = createLogger({ service: 'test', stream: new PassThrough().resume() });

function watcherFor(api: KubeApi, options: Partial<WatcherOptions> = {}) {
  const kc = new KubeConfig();
  kc.loadFromString(api.kubeconfig(SA, NS));
  const watcher = new SessionWatcher(
    [spec],
    kc,
    {
      namespace: NS,
      resyncIntervalMs: 60_000,
      listTimeoutMs: 5_000,
      backoff: { initialMs: 50, maxMs: 200 },
      staleGraceMs: 1_000,
      ...options,
    },
    logger,
  );
  return { watcher, index: new SessionIndex(watcher.sources) };
}

describe('SessionWatcher', () => {
  let api: KubeApi;
  beforeEach(async () => {
    api = await startKubeApi({ defaultNamespace: NS });
    api.addPod(sessionPod('p1', 'abc', 'alice'));
  });
  afterEach(async () => {
    await api.close();
  });

  it('selects only session pods', () => {
    expect(labelSelectorFor(spec)).toBe('canfar.net/id,canfar.net/username');
    expect(labelSelectorFor(spec, 'canfar-net-sessionType=carta')).toBe(
      'canfar.net/id,canfar.net/username,canfar-net-sessionType=carta',
    );
  });

  it('the resync watchdog repairs a watch that went silent', async () => {
    const { watcher, index } = watcherFor(api, { resyncIntervalMs: 1_000 });
    watcher.start();
    try {
      await until(() => watcher.isSynced() && api.watchCount() === 1);
      api.stallWatches();
      api.deletePod('p1');
      api.addPod(sessionPod('p2', 'def', 'bob'));
      // Nothing arrives over the stuck watch; the periodic re-list must bring both changes.
      expect(index.lookup('abc')).toEqual({ kind: 'owner', userId: 'alice' });
      await until(
        () => index.lookup('abc').kind === 'unknown' && index.lookup('def').kind === 'owner',
        3_000,
      );
      expect(watcher.isSynced()).toBe(true);
      // The old generation's watch was closed, the new one is live.
      await until(() => api.watchCount() === 1);
      api.addPod(sessionPod('p3', 'ghi', 'carl'));
      await until(() => index.lookup('ghi').kind === 'owner', 2_000);
    } finally {
      await watcher.stop();
    }
  });

  it('retries failed lists with backoff, unready with the reason meanwhile', async () => {
    const { watcher } = watcherFor(api);
    api.failNext(3, 500);
    watcher.start();
    try {
      await until(() => watcher.status().sources[0]!.restarts >= 1, 2_000);
      expect(watcher.isSynced()).toBe(false);
      expect(watcher.status().sources[0]!.lastError).toMatch(/500/);
      await until(() => watcher.isSynced(), 5_000);
      expect(watcher.status().sources[0]!.restarts).toBe(3);
    } finally {
      await watcher.stop();
    }
  });

  it("reports a refused list with its status and the API's reason (RBAC)", async () => {
    const { watcher } = watcherFor(api);
    api.setAuthorizer(() => false);
    watcher.start();
    try {
      await until(() => watcher.status().sources[0]!.restarts >= 1, 2_000);
      expect(watcher.status().sources[0]!.lastError).toMatch(
        /^HTTP 403: Forbidden: pods is forbidden: User "system:serviceaccount:skaha-workload:carta-forwardauth" cannot list resource "pods"/,
      );
      expect(watcher.isSynced()).toBe(false);
      api.setAuthorizer(() => true);
      await until(() => watcher.isSynced(), 5_000);
    } finally {
      await watcher.stop();
    }
  });

  it('gives up on a list that hangs (LIST_TIMEOUT) and recovers when the API answers again', async () => {
    const { watcher } = watcherFor(api, { listTimeoutMs: 300 });
    api.setLatency(60_000);
    watcher.start();
    try {
      await until(
        () => /did not answer within 300 ms/.test(watcher.status().sources[0]!.lastError ?? ''),
        3_000,
      );
      expect(watcher.isSynced()).toBe(false);
      api.setLatency(0);
      await until(() => watcher.isSynced(), 5_000);
    } finally {
      await watcher.stop();
    }
  });

  it('serves the last state within the grace period only, then reports unavailable', async () => {
    const { watcher, index } = watcherFor(api, { staleGraceMs: 500 });
    watcher.start();
    try {
      await until(() => watcher.isSynced());
      await api.setDown(true);
      await until(() => !watcher.isSynced(), 3_000);
      expect(index.lookup('abc')).toEqual({ kind: 'owner', userId: 'alice' });
      await until(() => index.lookup('abc').kind === 'unavailable', 2_000);
      await api.setDown(false);
      await until(() => watcher.isSynced(), 5_000);
      expect(index.lookup('abc')).toEqual({ kind: 'owner', userId: 'alice' });
    } finally {
      await watcher.stop();
    }
  });

  it('leaves no watch open after stop', async () => {
    const { watcher } = watcherFor(api);
    watcher.start();
    await until(() => api.watchCount() === 1);
    await watcher.stop();
    await until(() => api.watchCount() === 0, 2_000);
  });
});

describe('project (what the informer keeps of an object)', () => {
  it('keeps identity, version, the pair of labels, deletion and phase, and nothing else', () => {
    const pod = {
      metadata: {
        name: 'p1',
        namespace: NS,
        resourceVersion: '42',
        uid: 'u-1',
        labels: { 'canfar.net/id': 'abc', 'canfar.net/username': 'alice', app: 'carta', tier: 'x' },
        annotations: { big: 'x'.repeat(1000) },
        managedFields: [{ manager: 'kubelet' }],
        deletionTimestamp: '2026-01-01T00:00:00Z',
      },
      spec: { containers: [{ name: 'carta', image: 'carta:1' }] },
      status: { phase: 'Running', podIP: '10.0.0.1', conditions: [{ type: 'Ready' }] },
    };
    expect(project(pod, spec)).toEqual({
      metadata: {
        name: 'p1',
        namespace: NS,
        resourceVersion: '42',
        labels: { 'canfar.net/id': 'abc', 'canfar.net/username': 'alice' },
        deletionTimestamp: '2026-01-01T00:00:00Z',
      },
      status: { phase: 'Running' },
    });
  });

  it('a service (no phase) and an object without the labels', () => {
    expect(project({ metadata: { name: 's', namespace: NS, labels: { other: 'x' } } }, spec)).toEqual({
      metadata: { name: 's', namespace: NS, resourceVersion: undefined, labels: {} },
    });
  });
});
