// In-memory index session id -> user id, built from the labels of session pods (and services as a
// fallback). One SourceIndex per informer (kind + label-key pair); the hot path is a few Map reads.
import { LABEL_VALUE_PATTERN, SESSION_ID_PATTERN } from './constants.js';

export type ObjectKind = 'pods' | 'services';

export interface SourceSpec {
  kind: ObjectKind;
  idLabel: string;
  userLabel: string;
}

/** The parts of a V1Pod / V1Service the index reads. */
export interface LabelledObject {
  metadata?: {
    name?: string;
    namespace?: string;
    labels?: Record<string, string>;
    deletionTimestamp?: Date | string;
  };
  status?: { phase?: string } | object;
}

export type SessionLookup =
  | { kind: 'owner'; userId: string }
  | { kind: 'conflict'; userIds: string[] }
  | { kind: 'unknown' }
  | { kind: 'unavailable' };

const ENDED_PHASES = new Set(['Succeeded', 'Failed']);

/** Index of one informer's objects: object key -> (session, user) and session -> owners. */
export class SourceIndex {
  private readonly byObject = new Map<string, { sessionId: string; userId: string }>();
  private readonly bySession = new Map<string, Map<string, string>>();

  constructor(readonly spec: SourceSpec) {}

  get objectCount(): number {
    return this.byObject.size;
  }

  get sessionCount(): number {
    return this.bySession.size;
  }

  sessions(): IterableIterator<string> {
    return this.bySession.keys();
  }

  /** Distinct user ids of the session's objects (usually exactly one). */
  users(sessionId: string): string[] {
    const owners = this.bySession.get(sessionId);
    if (!owners) return [];
    if (owners.size === 1) return [owners.values().next().value!];
    return [...new Set(owners.values())];
  }

  /** Replaces the content with a fresh list. */
  reset(objects: LabelledObject[]): void {
    this.byObject.clear();
    this.bySession.clear();
    for (const o of objects) this.upsert(o);
  }

  upsert(obj: LabelledObject): void {
    const key = objectKey(obj);
    this.remove(obj);
    const entry = this.entryOf(obj);
    if (!entry) return;
    this.byObject.set(key, entry);
    let owners = this.bySession.get(entry.sessionId);
    if (!owners) this.bySession.set(entry.sessionId, (owners = new Map()));
    owners.set(key, entry.userId);
  }

  remove(obj: LabelledObject): void {
    const key = objectKey(obj);
    const old = this.byObject.get(key);
    if (!old) return;
    this.byObject.delete(key);
    const owners = this.bySession.get(old.sessionId);
    owners?.delete(key);
    if (owners?.size === 0) this.bySession.delete(old.sessionId);
  }

  /** Only live objects with well-formed labels vouch for a session. */
  private entryOf(obj: LabelledObject): { sessionId: string; userId: string } | undefined {
    const labels = obj.metadata?.labels;
    const sessionId = labels?.[this.spec.idLabel];
    const userId = labels?.[this.spec.userLabel];
    if (!sessionId || !userId || !SESSION_ID_PATTERN.test(sessionId) || !LABEL_VALUE_PATTERN.test(userId))
      return undefined;
    if (obj.metadata?.deletionTimestamp) return undefined;
    const phase = (obj.status as { phase?: string } | undefined)?.phase;
    if (this.spec.kind === 'pods' && phase && ENDED_PHASES.has(phase)) return undefined;
    return { sessionId, userId };
  }
}

function objectKey(obj: LabelledObject): string {
  return `${obj.metadata?.namespace ?? ''}/${obj.metadata?.name ?? ''}`;
}

/** What the decision needs from the watcher: per source, its current index and whether it may be used. */
export interface IndexSource {
  readonly spec: SourceSpec;
  current(): SourceIndex | undefined;
  usable(): boolean;
}

/**
 * Pods first (label pairs in configured order, new keys before legacy), services as the fallback.
 * Objects of one kind naming different users for the same session deny (conflict).
 */
export class SessionIndex {
  private readonly pods: IndexSource[];
  private readonly services: IndexSource[];

  constructor(sources: IndexSource[]) {
    this.pods = sources.filter((s) => s.spec.kind === 'pods');
    this.services = sources.filter((s) => s.spec.kind === 'services');
  }

  lookup(sessionId: string): SessionLookup {
    for (const group of [this.pods, this.services]) {
      let first: string | undefined;
      let all: Set<string> | undefined;
      for (const source of group) {
        if (!source.usable()) return { kind: 'unavailable' };
        for (const user of source.current()!.users(sessionId)) {
          if (first === undefined) first = user;
          else if (user !== first) (all ??= new Set([first])).add(user);
        }
      }
      if (all) return { kind: 'conflict', userIds: [...all] };
      if (first !== undefined) return { kind: 'owner', userId: first };
    }
    return { kind: 'unknown' };
  }

  /** Distinct sessions across all sources (for the cache-size gauge). */
  sessionCount(): number {
    const ids = new Set<string>();
    for (const s of [...this.pods, ...this.services]) {
      const idx = s.current();
      if (idx) for (const id of idx.sessions()) ids.add(id);
    }
    return ids.size;
  }
}
