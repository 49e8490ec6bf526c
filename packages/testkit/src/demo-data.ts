// Demo cluster contents for the Kubernetes API stand-in when it runs for `npm run demo` and the
// compose stack: CARTA session pods in skaha-workload (what carta-forwardauth looks up), a few
// workloads in team namespaces (what aks-broker users browse), and RBAC for dev-entra's demo users.
import { DEMO_GROUPS } from '@auth-sidecars/dev-entra';
import type { KubeApi } from './kube-api.js';
import type { RbacBinding } from './kube-rbac.js';

export const DEMO_NAMESPACE = 'skaha-workload';
/** The user carta-forwardauth's kubeconfig authenticates as (its ServiceAccount in a cluster). */
export const CARTA_SERVICE_ACCOUNT = `system:serviceaccount:${DEMO_NAMESPACE}:carta-forwardauth`;

/** CARTA sessions: session id -> owner, as Skaha labels them (canfar.net/id, canfar.net/username). */
export const DEMO_SESSIONS: ReadonlyArray<{ id: string; user: string; pod: string }> = Object.freeze([
  { id: 'abc123', user: 'alice', pod: 'carta-abc123-7d9f8' },
  { id: 'def456', user: 'bob', pod: 'carta-def456-5c2b1' },
  { id: 'ghi789', user: 'carol', pod: 'carta-ghi789-9a4e3' },
]);

/** Namespaces and pods for the aks-broker walkthrough. */
export const DEMO_TEAM_PODS: ReadonlyArray<{ namespace: string; name: string; phase: string }> =
  Object.freeze([
    { namespace: 'team-a', name: 'api-0', phase: 'Running' },
    { namespace: 'team-a', name: 'worker-0', phase: 'Pending' },
    { namespace: 'team-b', name: 'db-0', phase: 'Running' },
  ]);

const READ = ['get', 'list', 'watch'];

/**
 * alice (platform admins group): read pods, services and namespaces everywhere; bob (developers
 * group): read pods in team-a and skaha-workload; carol: nothing beyond discovery. carta-forwardauth:
 * list/watch pods and services in skaha-workload, as its Role in the Helm chart grants.
 */
export const DEMO_BINDINGS: readonly RbacBinding[] = Object.freeze([
  {
    groups: [DEMO_GROUPS.platformAdmins],
    rules: [{ verbs: READ, resources: ['pods', 'services', 'namespaces'] }],
  },
  { groups: [DEMO_GROUPS.developers], namespace: 'team-a', rules: [{ verbs: READ, resources: ['pods'] }] },
  {
    groups: [DEMO_GROUPS.developers],
    namespace: DEMO_NAMESPACE,
    rules: [{ verbs: READ, resources: ['pods'] }],
  },
  {
    users: [CARTA_SERVICE_ACCOUNT],
    namespace: DEMO_NAMESPACE,
    rules: [{ verbs: READ, resources: ['pods', 'services'] }],
  },
]);

/** Fills a fresh stand-in with the demo namespaces and pods. */
export function seedDemoCluster(api: KubeApi): void {
  for (const ns of [DEMO_NAMESPACE, 'team-a', 'team-b']) api.addNamespace(ns);
  for (const s of DEMO_SESSIONS) {
    api.addPod({
      name: s.pod,
      namespace: DEMO_NAMESPACE,
      labels: { 'canfar.net/id': s.id, 'canfar.net/username': s.user, 'canfar.net/type': 'carta' },
      phase: 'Running',
    });
  }
  api.addPod({
    name: 'notebook-xyz000-1b2c3',
    namespace: DEMO_NAMESPACE,
    labels: { 'canfar.net/id': 'xyz000', 'canfar.net/username': 'alice', 'canfar.net/type': 'notebook' },
    phase: 'Running',
  });
  for (const p of DEMO_TEAM_PODS) api.addPod(p);
}
