// Discovery for the Kubernetes API stand-in, in the legacy (unaggregated) shapes every client-go and
// @kubernetes/client-node understands: `/api` (APIVersions), `/apis` (APIGroupList) and one
// APIResourceList per group version (`/api/v1`, `/apis/<group>/<version>`), built from the resource
// types the store serves. kubectl resolves `pods`, `po`, `svc`, `ns` through them. Aggregated
// discovery (apidiscovery.k8s.io) is not offered: answered with plain `application/json`, clients
// fall back to these documents, as they do with an older API server.
import type { ResourceType } from './kube-api-store.js';
import { apiVersionOf } from './kube-api-store.js';

/** The verbs the stand-in serves for every resource (deletecollection is not one of them). */
const VERBS = ['create', 'delete', 'get', 'list', 'patch', 'update', 'watch'];
const STATUS_VERBS = ['get', 'patch', 'update'];

const SHORT_NAMES: Record<string, string[]> = { pods: ['po'], services: ['svc'], namespaces: ['ns'] };
/** `kubectl get all` lists the resources of the `all` category. */
const CATEGORIES: Record<string, string[]> = { pods: ['all'], services: ['all'] };

export function apiVersions(serverAddress: string): Record<string, unknown> {
  return {
    kind: 'APIVersions',
    versions: ['v1'],
    serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress }],
  };
}

/** Named groups (not the core group) with their versions, the first one preferred. */
function groups(types: Iterable<ResourceType>): Map<string, string[]> {
  const byGroup = new Map<string, string[]>();
  for (const t of types) {
    if (t.group === '') continue;
    const versions = byGroup.get(t.group) ?? [];
    if (!versions.includes(t.version)) versions.push(t.version);
    byGroup.set(t.group, versions);
  }
  return byGroup;
}

export function apiGroupList(types: Iterable<ResourceType>): Record<string, unknown> {
  return {
    kind: 'APIGroupList',
    apiVersion: 'v1',
    groups: [...groups(types)].map(([name, versions]) => {
      const list = versions.map((version) => ({ groupVersion: `${name}/${version}`, version }));
      return { name, versions: list, preferredVersion: list[0] };
    }),
  };
}

/** The APIResourceList of one group version, or undefined when the stand-in serves none of it. */
export function apiResourceList(
  types: Iterable<ResourceType>,
  group: string,
  version: string,
): Record<string, unknown> | undefined {
  const served = [...types].filter((t) => t.group === group && t.version === version);
  if (served.length === 0) return undefined;
  const resources = served.flatMap((t) => {
    const singularName = t.kind.toLowerCase();
    return [
      {
        name: t.resource,
        singularName,
        namespaced: t.namespaced,
        kind: t.kind,
        verbs: VERBS,
        ...(SHORT_NAMES[t.resource] ? { shortNames: SHORT_NAMES[t.resource] } : {}),
        ...(CATEGORIES[t.resource] ? { categories: CATEGORIES[t.resource] } : {}),
      },
      {
        name: `${t.resource}/status`,
        singularName: '',
        namespaced: t.namespaced,
        kind: t.kind,
        verbs: STATUS_VERBS,
      },
      // What kube-api-pod-io.ts serves: logs, and exec and port-forward over WebSocket.
      ...(t.resource === 'pods' && t.group === ''
        ? [
            { name: 'pods/log', singularName: '', namespaced: true, kind: 'Pod', verbs: ['get'] },
            {
              name: 'pods/exec',
              singularName: '',
              namespaced: true,
              kind: 'PodExecOptions',
              verbs: ['create', 'get'],
            },
            {
              name: 'pods/portforward',
              singularName: '',
              namespaced: true,
              kind: 'PodPortForwardOptions',
              verbs: ['create', 'get'],
            },
          ]
        : []),
    ];
  });
  return { kind: 'APIResourceList', apiVersion: 'v1', groupVersion: apiVersionOf(served[0]!), resources };
}
