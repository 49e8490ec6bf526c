// Watch streams of the Kubernetes API stand-in: the initial events (a list, or history since a
// resourceVersion, or 410 Gone when it was compacted), then live store events translated through the
// request's selectors, and the registry the controls (end, break, stall) act on.
import type { Response } from 'express';
import { sendStatus, statusBody } from './kube-api-request.js';
import type { KubeObject, ObjectStore, ResourceType, StoreEvent } from './kube-api-store.js';
import { toTable, type TableFormat } from './kube-api-table.js';
import type { RequestLogEntry } from './kube-api-types.js';

export interface OpenWatch {
  res: Response;
  /** Silently dead: the connection stays open but no event is ever sent again. */
  stalled: boolean;
  end(): void;
  destroy(): void;
}

/** Open watch streams, for the controls that end, break or stall them all. */
export class OpenWatches {
  private readonly open = new Set<OpenWatch>();

  get size(): number {
    return this.open.size;
  }

  add(watch: OpenWatch): void {
    this.open.add(watch);
  }

  delete(watch: OpenWatch): void {
    this.open.delete(watch);
  }

  /** Ends each cleanly (terminating chunk). */
  endAll(): void {
    for (const w of [...this.open]) w.end();
  }

  /** Destroys each connection mid-stream. */
  destroyAll(): void {
    for (const w of [...this.open]) w.destroy();
  }

  stallAll(): void {
    for (const w of this.open) w.stalled = true;
  }
}

export interface WatchHost {
  store: ObjectStore;
  watches: OpenWatches;
  staleWatch: 'event' | 'status';
  maxWatchSeconds: number | undefined;
}

export function startWatch(
  host: WatchHost,
  res: Response,
  type: ResourceType,
  matches: (o: KubeObject | undefined) => boolean,
  table: TableFormat | undefined,
): void {
  const q = (res.locals.logEntry as RequestLogEntry).query;
  const rvParam = q.resourceVersion;
  const translate = (e: StoreEvent): { type: string; object: KubeObject } | undefined => {
    const was = matches(e.previous);
    if (e.type === 'DELETED') return was ? { type: 'DELETED', object: e.object } : undefined;
    const is = matches(e.object);
    if (is) return { type: was ? 'MODIFIED' : 'ADDED', object: e.object };
    return was ? { type: 'DELETED', object: e.object } : undefined;
  };
  let initial: Array<{ type: string; object: KubeObject }>;
  if (rvParam && rvParam !== '0') {
    const since = Number(rvParam);
    if (!Number.isInteger(since) || since < 0)
      return sendStatus(res, 400, 'BadRequest', `invalid resource version: ${rvParam}`);
    const events = host.store.eventsSince(type.resource, since);
    if (!events) {
      const message = `too old resource version: ${rvParam} (${host.store.resourceVersion})`;
      if (host.staleWatch === 'status') return sendStatus(res, 410, 'Expired', message);
      res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-cache, private' });
      res.end(JSON.stringify({ type: 'ERROR', object: statusBody(410, 'Expired', message) }) + '\n');
      return;
    }
    initial = events.map(translate).filter((e) => e !== undefined);
  } else {
    initial = host.store
      .list(type.resource)
      .filter(matches)
      .map((object) => ({ type: 'ADDED', object }));
  }
  res.writeHead(200, {
    'content-type': 'application/json',
    'cache-control': 'no-cache, private',
    'transfer-encoding': 'chunked',
  });
  res.flushHeaders();
  // kubectl get -w asks for Table events: one row each, columns only in the first (as the API server).
  let columnsSent = false;
  const line = (e: { type: string; object: KubeObject }) => {
    if (!table) return JSON.stringify(e) + '\n';
    const object = toTable(type, [e.object], table, e.object.metadata.resourceVersion, !columnsSent);
    columnsSent = true;
    return JSON.stringify({ type: e.type, object }) + '\n';
  };
  const send = (e: { type: string; object: KubeObject }) => {
    if (!open.stalled && !res.writableEnded && !res.destroyed) res.write(line(e));
  };
  if (initial.length > 0) res.write(initial.map(line).join(''));
  const unsubscribe = host.store.subscribe((e) => {
    if (e.resource !== type.resource) return;
    const out = translate(e);
    if (out) send(out);
  });
  let timer: NodeJS.Timeout | undefined;
  const open: OpenWatch = {
    res,
    stalled: false,
    end: () => {
      cleanup();
      res.end();
    },
    destroy: () => {
      cleanup();
      res.socket?.destroy();
    },
  };
  const cleanup = () => {
    clearTimeout(timer);
    unsubscribe();
    host.watches.delete(open);
  };
  const seconds = Math.min(Number(q.timeoutSeconds) || Infinity, host.maxWatchSeconds ?? Infinity);
  if (Number.isFinite(seconds)) timer = setTimeout(() => open.end(), seconds * 1000);
  host.watches.add(open);
  res.on('close', cleanup);
}
