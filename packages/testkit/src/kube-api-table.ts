// Server-side printing for the Kubernetes API stand-in: when a client asks for
// `application/json;as=Table;v=v1;g=meta.k8s.io` (kubectl get does), lists, gets and watch events are
// answered as meta.k8s.io Tables with the columns the real API server prints for pods, services and
// namespaces (Name and Age for other resources), so `kubectl get pods` shows READY, STATUS, ...
import type { KubeObject, ResourceType } from './kube-api-store.js';

export interface TableFormat {
  /** meta.k8s.io version the client asked for. */
  version: 'v1' | 'v1beta1';
  /** `includeObject`: the row's object as PartialObjectMetadata (default), whole, or none. */
  includeObject: 'Metadata' | 'Object' | 'None';
}

interface ColumnDefinition {
  name: string;
  type: string;
  format: string;
  description: string;
  priority: number;
}

/** The Table format the Accept header asks for first, or undefined for plain JSON. */
export function tableFormat(
  accept: string | undefined,
  includeObject: string | undefined,
): TableFormat | undefined {
  if (!accept) return undefined;
  for (const mediaType of accept.split(',')) {
    const [type, ...params] = mediaType.split(';').map((p) => p.trim());
    const p = Object.fromEntries(params.map((kv) => kv.split('=').map((s) => s.trim())));
    if (type === 'application/json' && p.as === 'Table' && p.g === 'meta.k8s.io') {
      if (p.v !== 'v1' && p.v !== 'v1beta1') continue;
      const include = includeObject === 'Object' || includeObject === 'None' ? includeObject : 'Metadata';
      return { version: p.v, includeObject: include };
    }
    // A plain JSON (or any) type listed before a Table type is the client's preference.
    if (type === 'application/json' || type === '*/*') return undefined;
  }
  return undefined;
}

export function tableContentType(format: TableFormat): string {
  return `application/json;as=Table;v=${format.version};g=meta.k8s.io`;
}

const NAME_DESCRIPTION =
  'Name must be unique within a namespace. Is required when creating resources, although some resources may allow a client to request the generation of an appropriate name automatically. Name is primarily intended for creation idempotence and configuration definition. Cannot be updated. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names';
const AGE_DESCRIPTION =
  'CreationTimestamp is a timestamp representing the server time when this object was created. It is not guaranteed to be set in happens-before order across separate operations. Clients may not set this value. It is represented in RFC3339 form and is in UTC.\n\nPopulated by the system. Read-only. Null for lists. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata';

const column = (name: string, description: string, priority = 0, format = ''): ColumnDefinition => ({
  name,
  type: 'string',
  format,
  description,
  priority,
});
const NAME = column('Name', NAME_DESCRIPTION, 0, 'name');
const AGE = column('Age', AGE_DESCRIPTION);

interface Printer {
  columns: ColumnDefinition[];
  cells(obj: KubeObject, now: number): Array<string | number>;
}

const age = (obj: KubeObject, now: number) => {
  const created = Date.parse(obj.metadata.creationTimestamp ?? '');
  return Number.isNaN(created) ? '<unknown>' : humanDuration(now - created);
};

const PRINTERS: Record<string, Printer> = {
  pods: {
    columns: [
      NAME,
      column('Ready', 'The aggregate readiness state of this pod for accepting traffic.'),
      column('Status', 'The aggregate status of the containers in this pod.'),
      column(
        'Restarts',
        'The number of times the containers in this pod have been restarted and when the last container in this pod has restarted.',
      ),
      AGE,
      column(
        'IP',
        'IP address allocated to the pod. Routable at least within the cluster. Empty if not yet allocated.',
        1,
      ),
      column('Node', 'NodeName is a request to schedule this pod onto a specific node.', 1),
    ],
    cells(pod, now) {
      const spec = (pod.spec ?? {}) as { containers?: unknown[]; nodeName?: string };
      const status = (pod.status ?? {}) as {
        phase?: string;
        reason?: string;
        podIP?: string;
        containerStatuses?: Array<{ ready?: boolean; restartCount?: number }>;
      };
      const total = spec.containers?.length ?? 0;
      // The stand-in's pods rarely carry containerStatuses: a Running pod then counts as all ready.
      const ready = status.containerStatuses
        ? status.containerStatuses.filter((c) => c.ready).length
        : status.phase === 'Running'
          ? total
          : 0;
      const restarts = (status.containerStatuses ?? []).reduce((n, c) => n + (c.restartCount ?? 0), 0);
      const phase = pod.metadata.deletionTimestamp
        ? 'Terminating'
        : (status.reason ?? status.phase ?? 'Unknown');
      return [
        pod.metadata.name,
        `${ready}/${total}`,
        phase,
        String(restarts),
        age(pod, now),
        status.podIP ?? '<none>',
        spec.nodeName ?? '<none>',
      ];
    },
  },
  services: {
    columns: [
      NAME,
      column('Type', 'type determines how the Service is exposed.'),
      column('Cluster-IP', 'clusterIP is the IP address of the service and is usually assigned randomly.'),
      column(
        'External-IP',
        'externalIPs is a list of IP addresses for which nodes in the cluster will also accept traffic for this service.',
      ),
      column('Port(s)', 'The list of ports that are exposed by this service.'),
      AGE,
      column(
        'Selector',
        'Route service traffic to pods with label keys and values matching this selector.',
        1,
      ),
    ],
    cells(svc, now) {
      const spec = (svc.spec ?? {}) as {
        type?: string;
        clusterIP?: string;
        externalIPs?: string[];
        ports?: Array<{ port?: number; protocol?: string; nodePort?: number }>;
        selector?: Record<string, string>;
      };
      const ports = (spec.ports ?? [])
        .map((p) => `${p.port}${p.nodePort ? `:${p.nodePort}` : ''}/${p.protocol ?? 'TCP'}`)
        .join(',');
      const selector = Object.entries(spec.selector ?? {})
        .map(([k, v]) => `${k}=${v}`)
        .join(',');
      return [
        svc.metadata.name,
        spec.type ?? 'ClusterIP',
        spec.clusterIP ?? '<none>',
        spec.externalIPs?.join(',') || '<none>',
        ports || '<none>',
        age(svc, now),
        selector || '<none>',
      ];
    },
  },
  namespaces: {
    columns: [NAME, column('Status', 'The status of the namespace'), AGE],
    cells: (ns, now) => [
      ns.metadata.name,
      ((ns.status ?? {}) as { phase?: string }).phase ?? 'Active',
      age(ns, now),
    ],
  },
};

const DEFAULT_PRINTER: Printer = { columns: [NAME, AGE], cells: (o, now) => [o.metadata.name, age(o, now)] };

/**
 * A Table of `objects`. `withColumns: false` leaves the column definitions out, as the API server
 * does in watch events after the first (kubectl keeps the last ones it saw).
 */
export function toTable(
  type: ResourceType,
  objects: KubeObject[],
  format: TableFormat,
  resourceVersion: string | undefined,
  withColumns = true,
): Record<string, unknown> {
  const printer = PRINTERS[type.resource] ?? DEFAULT_PRINTER;
  const now = Date.now();
  const apiVersion = `meta.k8s.io/${format.version}`;
  return {
    kind: 'Table',
    apiVersion,
    metadata: resourceVersion === undefined ? {} : { resourceVersion },
    columnDefinitions: withColumns ? printer.columns : [],
    rows: objects.map((obj) => ({
      cells: printer.cells(obj, now),
      ...(format.includeObject === 'None'
        ? {}
        : {
            object:
              format.includeObject === 'Object'
                ? obj
                : { kind: 'PartialObjectMetadata', apiVersion, metadata: obj.metadata },
          }),
    })),
  };
}

/** apimachinery's duration.HumanDuration: how kubectl shows an AGE. */
export function humanDuration(ms: number): string {
  const seconds = Math.floor(ms / 1000);
  if (seconds < -1) return '<invalid>';
  if (seconds < 0) return '0s';
  if (seconds < 120) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 10) return seconds % 60 === 0 ? `${minutes}m` : `${minutes}m${seconds % 60}s`;
  if (minutes < 180) return `${minutes}m`;
  const hours = Math.floor(minutes / 60);
  if (hours < 8) return minutes % 60 === 0 ? `${hours}h` : `${hours}h${minutes % 60}m`;
  if (hours < 48) return `${hours}h`;
  if (hours < 24 * 8) return hours % 24 === 0 ? `${hours / 24}d` : `${Math.floor(hours / 24)}d${hours % 24}h`;
  if (hours < 24 * 365 * 2) return `${Math.floor(hours / 24)}d`;
  const days = Math.floor(hours / 24);
  if (hours < 24 * 365 * 8)
    return days % 365 === 0 ? `${days / 365}y` : `${Math.floor(days / 365)}y${days % 365}d`;
  return `${Math.floor(days / 365)}y`;
}
