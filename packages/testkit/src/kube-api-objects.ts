// The in-process object helpers of the stand-in (create, update, addPod, deletePod...): refs and
// shorthands resolved against the default namespace, then straight to the store.
import type { KubeObject, ObjectStore } from './kube-api-store.js';
import type { KubeApi, ObjectRef, ObjectShorthand } from './kube-api-types.js';

export function shorthandToObject(
  input: KubeObject | ObjectShorthand,
  kind: string,
  defaultNamespace: string,
): KubeObject {
  if ('metadata' in input && input.metadata) {
    return {
      ...input,
      metadata: { ...input.metadata, namespace: input.metadata.namespace ?? defaultNamespace },
    } as KubeObject;
  }
  const s = input as ObjectShorthand;
  const metadata = {
    name: s.name,
    namespace: s.namespace ?? defaultNamespace,
    ...(s.labels ? { labels: { ...s.labels } } : {}),
    ...(s.annotations ? { annotations: { ...s.annotations } } : {}),
  };
  if (kind === 'Pod') {
    return {
      metadata,
      spec: { containers: [{ name: 'main', image: 'stand-in' }] },
      status: { phase: s.phase ?? 'Running' },
    };
  }
  if (kind === 'Service') {
    return { metadata, spec: { selector: s.selector ?? {}, ports: [{ port: 80, protocol: 'TCP' }] } };
  }
  return { metadata };
}

export type ObjectHelpers = Pick<
  KubeApi,
  | 'create'
  | 'update'
  | 'remove'
  | 'get'
  | 'list'
  | 'addPod'
  | 'updatePod'
  | 'deletePod'
  | 'addService'
  | 'updateService'
  | 'deleteService'
  | 'addNamespace'
>;

/** `timers` (graceful pod deletions) is shared with the server so close() clears them. */
export function objectHelpers(
  store: ObjectStore,
  defaultNamespace: string,
  graceTimers: Set<NodeJS.Timeout>,
): ObjectHelpers & {
  refOf(resource: string, ref: ObjectRef): { name: string; namespace: string | undefined };
} {
  const refOf = (resource: string, ref: ObjectRef): { name: string; namespace: string | undefined } => {
    const namespaced = store.type(resource).namespaced;
    const r = typeof ref === 'string' ? { name: ref } : ref;
    return { name: r.name, namespace: namespaced ? (r.namespace ?? defaultNamespace) : undefined };
  };
  const helpers: ObjectHelpers = {
    create: (resource, input) =>
      store.create(resource, shorthandToObject(input, store.type(resource).kind, defaultNamespace)),
    update(resource, ref, mutate) {
      const r = refOf(resource, ref);
      return store.update(resource, r.namespace, r.name, mutate);
    },
    remove(resource, ref) {
      const r = refOf(resource, ref);
      return store.remove(resource, r.namespace, r.name);
    },
    get(resource, ref) {
      const r = refOf(resource, ref);
      return store.get(resource, r.namespace, r.name);
    },
    list: (resource, namespace) => store.list(resource, namespace),
    addPod: (pod) => helpers.create('pods', pod),
    updatePod: (ref, mutate) => helpers.update('pods', ref, mutate),
    deletePod(ref, opts = {}) {
      if (!opts.graceSeconds) return helpers.remove('pods', ref);
      const marked = helpers.update('pods', ref, (o) => {
        o.metadata.deletionTimestamp = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
      });
      const timer = setTimeout(() => {
        graceTimers.delete(timer);
        if (helpers.get('pods', ref)) helpers.remove('pods', ref);
      }, opts.graceSeconds * 1000);
      graceTimers.add(timer);
      return marked;
    },
    addService: (service) => helpers.create('services', service),
    updateService: (ref, mutate) => helpers.update('services', ref, mutate),
    deleteService: (ref) => helpers.remove('services', ref),
    addNamespace: (name, labels) => helpers.create('namespaces', { name, ...(labels ? { labels } : {}) }),
  };
  return { ...helpers, refOf };
}
