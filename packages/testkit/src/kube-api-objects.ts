// Objects the in-process helpers (addPod, addService...) build from a shorthand.
import type { KubeObject } from './kube-api-store.js';
import type { ObjectShorthand } from './kube-api-types.js';

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
