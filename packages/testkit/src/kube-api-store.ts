// In-memory object store of the Kubernetes API stand-in: one global resourceVersion counter (like
// etcd's revision), a bounded event history for watches that resume from a resourceVersion, and
// compaction that makes older versions answer 410 Gone.
import { randomUUID } from 'node:crypto';

export interface ObjectMeta {
  name: string;
  namespace?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  uid?: string;
  resourceVersion?: string;
  creationTimestamp?: string;
  deletionTimestamp?: string;
  [key: string]: unknown;
}

export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata: ObjectMeta;
  spec?: Record<string, unknown>;
  status?: Record<string, unknown>;
  [key: string]: unknown;
}

export interface ResourceType {
  /** Plural name as in the URL, e.g. `pods`. */
  resource: string;
  kind: string;
  /** API group, '' for core. */
  group: string;
  version: string;
  namespaced: boolean;
}

export const BUILTIN_RESOURCES: ResourceType[] = [
  { resource: 'pods', kind: 'Pod', group: '', version: 'v1', namespaced: true },
  { resource: 'services', kind: 'Service', group: '', version: 'v1', namespaced: true },
  { resource: 'namespaces', kind: 'Namespace', group: '', version: 'v1', namespaced: false },
];

export type EventType = 'ADDED' | 'MODIFIED' | 'DELETED';

export interface StoreEvent {
  rv: number;
  resource: string;
  type: EventType;
  object: KubeObject;
  /** State before the change (MODIFIED/DELETED), to turn selector transitions into ADDED/DELETED. */
  previous?: KubeObject;
}

export type StoreListener = (event: StoreEvent) => void;

export class StoreError extends Error {
  constructor(
    readonly code: 404 | 409 | 422,
    message: string,
  ) {
    super(message);
  }
}

export function apiVersionOf(type: ResourceType): string {
  return type.group ? `${type.group}/${type.version}` : type.version;
}

function keyOf(namespace: string | undefined, name: string): string {
  return `${namespace ?? ''}/${name}`;
}

export class ObjectStore {
  private rv = 1;
  private readonly objects = new Map<string, Map<string, KubeObject>>();
  private history: StoreEvent[] = [];
  /** Watches resuming from a resourceVersion below this one are answered with 410 Gone. */
  private minResumableRv = 0;
  private readonly listeners = new Set<StoreListener>();
  readonly types = new Map<string, ResourceType>();

  constructor(
    types: ResourceType[],
    private readonly maxHistory = 200_000,
  ) {
    for (const t of types) {
      this.types.set(t.resource, t);
      this.objects.set(t.resource, new Map());
    }
  }

  get resourceVersion(): number {
    return this.rv;
  }

  get oldestResumableVersion(): number {
    return this.minResumableRv;
  }

  type(resource: string): ResourceType {
    const t = this.types.get(resource);
    if (!t) throw new StoreError(404, `the server could not find the requested resource (${resource})`);
    return t;
  }

  subscribe(listener: StoreListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  get(resource: string, namespace: string | undefined, name: string): KubeObject | undefined {
    return this.objects.get(resource)?.get(keyOf(this.ns(resource, namespace), name));
  }

  list(resource: string, namespace?: string): KubeObject[] {
    const all = [...(this.objects.get(resource)?.values() ?? [])];
    return namespace === undefined ? all : all.filter((o) => o.metadata.namespace === namespace);
  }

  /** Events after `rv` for a resource, or undefined when that version has been compacted away. */
  eventsSince(resource: string, rv: number): StoreEvent[] | undefined {
    if (rv < this.minResumableRv) return undefined;
    return this.history.filter((e) => e.resource === resource && e.rv > rv);
  }

  /** Forgets history: every resourceVersion handed out so far becomes "too old" for watches. */
  compact(): void {
    this.history = [];
    this.minResumableRv = this.rv + 1;
  }

  create(resource: string, input: KubeObject): KubeObject {
    const type = this.type(resource);
    const namespace = this.ns(resource, input.metadata?.namespace);
    const name = input.metadata?.name;
    if (!name)
      throw new StoreError(
        422,
        `${type.kind} "" is invalid: metadata.name: Required value: name is required`,
      );
    const map = this.objects.get(resource)!;
    const key = keyOf(namespace, name);
    if (map.has(key)) throw new StoreError(409, `${resource} "${name}" already exists`);
    const rv = ++this.rv;
    const obj: KubeObject = {
      ...structuredClone(input),
      apiVersion: apiVersionOf(type),
      kind: type.kind,
      metadata: {
        ...structuredClone(input.metadata),
        name,
        ...(namespace !== undefined ? { namespace } : {}),
        uid: input.metadata.uid ?? randomUUID(),
        resourceVersion: String(rv),
        creationTimestamp:
          input.metadata.creationTimestamp ?? new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
      },
    };
    map.set(key, obj);
    this.emit({ rv, resource, type: 'ADDED', object: obj });
    return obj;
  }

  update(
    resource: string,
    namespace: string | undefined,
    name: string,
    mutate: (obj: KubeObject) => KubeObject | void,
  ): KubeObject {
    const type = this.type(resource);
    const ns = this.ns(resource, namespace);
    const map = this.objects.get(resource)!;
    const key = keyOf(ns, name);
    const previous = map.get(key);
    if (!previous) throw new StoreError(404, `${resource} "${name}" not found`);
    const draft = structuredClone(previous);
    const next = mutate(draft) ?? draft;
    const rv = ++this.rv;
    const obj: KubeObject = {
      ...next,
      apiVersion: apiVersionOf(type),
      kind: type.kind,
      metadata: {
        ...next.metadata,
        name,
        ...(ns !== undefined ? { namespace: ns } : {}),
        uid: previous.metadata.uid,
        creationTimestamp: previous.metadata.creationTimestamp,
        resourceVersion: String(rv),
      },
    };
    map.set(key, obj);
    this.emit({ rv, resource, type: 'MODIFIED', object: obj, previous });
    return obj;
  }

  remove(resource: string, namespace: string | undefined, name: string): KubeObject {
    this.type(resource);
    const ns = this.ns(resource, namespace);
    const map = this.objects.get(resource)!;
    const key = keyOf(ns, name);
    const previous = map.get(key);
    if (!previous) throw new StoreError(404, `${resource} "${name}" not found`);
    map.delete(key);
    const rv = ++this.rv;
    // The DELETED event carries the last state stamped with the deletion's resourceVersion.
    const obj = { ...previous, metadata: { ...previous.metadata, resourceVersion: String(rv) } };
    this.emit({ rv, resource, type: 'DELETED', object: obj, previous });
    return obj;
  }

  private ns(resource: string, namespace: string | undefined): string | undefined {
    return this.type(resource).namespaced ? (namespace ?? 'default') : undefined;
  }

  private emit(event: StoreEvent): void {
    this.history.push(event);
    if (this.history.length > this.maxHistory) {
      const dropped = this.history.splice(0, this.history.length - this.maxHistory);
      this.minResumableRv = dropped[dropped.length - 1]!.rv;
    }
    for (const listener of [...this.listeners]) listener(event);
  }
}
