// Wiring of pod logs, exec and port-forward (kube-api-pod-io.ts) to the stand-in's store,
// authentication, authorizer and request log.
import { PodLogs, type PodIoHost } from './kube-api-pod-io.js';
import { parsePath, statusBody } from './kube-api-request.js';
import type { ObjectStore } from './kube-api-store.js';
import type { KubeUser, RequestAttributes, RequestLogEntry } from './kube-api-types.js';

/** Pod logs, forgotten when their pod is deleted. */
export function podLogsOf(store: ObjectStore, defaultNamespace: string): PodLogs {
  const podLogs = new PodLogs();
  store.subscribe((e) => {
    if (e.resource === 'pods' && e.type === 'DELETED')
      podLogs.forget({
        namespace: e.object.metadata.namespace ?? defaultNamespace,
        name: e.object.metadata.name,
      });
  });
  return podLogs;
}

export interface PodIoDeps {
  store: ObjectStore;
  userOf(header: string | undefined): Promise<KubeUser | undefined>;
  isAllowed(attrs: RequestAttributes): Promise<boolean>;
  requestLog: RequestLogEntry[];
}

export function podIoHost({ store, userOf, isAllowed, requestLog }: PodIoDeps): PodIoHost {
  return {
    podExists: (ref) => store.get('pods', ref.namespace, ref.name) !== undefined,
    containerNames: (ref) =>
      (
        (store.get('pods', ref.namespace, ref.name)?.spec?.containers as
          Array<{ name: string }> | undefined) ?? []
      ).map((c) => c.name),
    authenticateHeader: userOf,
    isAllowed: (attrs) => isAllowed(attrs),
    status: statusBody,
    logUpgrade: ({ path, query, user, status }) => {
      const parsed = parsePath(path);
      requestLog.push({
        time: Date.now(),
        method: 'GET',
        path,
        query,
        ...(user !== undefined ? { user } : {}),
        verb: 'create',
        apiGroup: '',
        resource: parsed?.resource,
        namespace: parsed?.namespace,
        name: parsed?.name,
        watch: false,
        status,
      });
    },
  };
}
