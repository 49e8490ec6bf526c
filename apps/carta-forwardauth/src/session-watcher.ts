// Keeps one SourceIndex current per (kind, label-key pair) with @kubernetes/client-node's informer
// (list, then watch from the list's resourceVersion). The library's informer stops on errors and can
// stop silently, so every failure starts a fresh generation (re-list) after a jittered exponential
// backoff, and a watchdog re-lists periodically and swaps the index in atomically. The informer
// caches projections (project()), not whole pods: a decision reads two labels. The list is a plain
// request whose items are projected as they are parsed: the generated CoreV1Api would turn every pod
// into a full model object first, and would bring every model class of the API into the bundle.
import {
  HttpMethod,
  ListWatch,
  RequestContext,
  Watch,
  type Informer,
  type KubeConfig,
  type KubernetesObject,
} from '@kubernetes/client-node';
import { STATUS_CODES } from 'node:http';
import { fetch } from 'undici';
import { backoffDelay, type Logger } from '@auth-sidecars/service-kit';
import { SourceIndex, type IndexSource, type LabelledObject, type SourceSpec } from './session-index.js';

export type SourceState = 'starting' | 'synced' | 'error' | 'stopped';

export interface WatcherOptions {
  namespace: string;
  /** Extra requirements ANDed to every selector (e.g. `canfar-net-sessionType=carta`). */
  extraSelector?: string;
  resyncIntervalMs: number;
  listTimeoutMs: number;
  backoff: { initialMs: number; maxMs: number };
  /** How long a source that lost its watch may still answer from its last state. */
  staleGraceMs: number;
}

export interface WatcherEvents {
  onRestart?(spec: SourceSpec, error: string): void;
  onConnect?(spec: SourceSpec): void;
  onResync?(spec: SourceSpec): void;
}

export interface SourceStatus {
  kind: string;
  labelSelector: string;
  state: SourceState;
  objects: number;
  sessions: number;
  lastSyncAt?: string;
  lastError?: string;
  errorSince?: string;
  restarts: number;
}

interface Generation {
  id: number;
  informer: Informer<KubernetesObject>;
  index: SourceIndex;
  dead: boolean;
  listed: boolean;
  /** Aborts the generation's list request when it is superseded or stopped. */
  abort: AbortController;
}

export function labelSelectorFor(spec: SourceSpec, extra?: string): string {
  return [spec.idLabel, spec.userLabel, ...(extra ? [extra] : [])].join(',');
}

/**
 * What the informer keeps of an object: its identity and version (the informer's own bookkeeping),
 * the two labels of the source's pair, and what says whether it still vouches for a session
 * (deletionTimestamp, a pod's phase). A pod as the API serves it is a few KB (spec, status,
 * managedFields); ten thousand of them were most of the process's memory.
 */
export function project(obj: LabelledObject & { metadata?: { resourceVersion?: string } }, spec: SourceSpec) {
  const metadata = obj.metadata ?? {};
  const labels = metadata.labels;
  const kept: Record<string, string> = {};
  for (const key of [spec.idLabel, spec.userLabel]) {
    const value = labels?.[key];
    if (value !== undefined) kept[key] = value;
  }
  const phase = (obj.status as { phase?: string } | undefined)?.phase;
  return {
    metadata: {
      name: metadata.name,
      namespace: metadata.namespace,
      resourceVersion: metadata.resourceVersion,
      labels: kept,
      ...(metadata.deletionTimestamp ? { deletionTimestamp: metadata.deletionTimestamp } : {}),
    },
    ...(phase === undefined ? {} : { status: { phase } }),
  };
}

/** A Watch whose events carry projections: the informer never holds a whole object. */
class ProjectingWatch extends Watch {
  constructor(
    config: KubeConfig,
    private readonly spec: SourceSpec,
  ) {
    super(config);
  }

  override watch(
    path: string,
    queryParams: Record<string, string | number | boolean | undefined>,
    callback: (phase: string, apiObj: unknown, watchObj?: unknown) => void,
    done: (err: unknown) => void,
  ): Promise<AbortController> {
    return super.watch(
      path,
      queryParams,
      // ERROR and BOOKMARK events carry a Status or a bare object: the informer reads only their code or version.
      (phase, apiObj: LabelledObject, watchObj) =>
        callback(phase, phase === 'ERROR' ? apiObj : project(apiObj, this.spec), watchObj),
      done,
    );
  }
}

type Projection = ReturnType<typeof project>;

interface ProjectedList {
  metadata?: { resourceVersion?: string };
  items: Projection[];
}

class ListTimeoutError extends Error {}

/** The list was answered with an error status; the message carries the API's reason (RBAC, namespace...). */
export class ListError extends Error {
  constructor(
    readonly statusCode: number,
    message: string,
  ) {
    super(message);
  }
}

/** Runs `run` with a signal that aborts the request after `ms` (rejecting with the timeout) or with `parent`. */
function withTimeout<T>(
  run: (signal: AbortSignal) => Promise<T>,
  ms: number,
  parent: AbortSignal,
): Promise<T> {
  const controller = new AbortController();
  const onAbort = () => controller.abort(parent.reason);
  parent.addEventListener('abort', onAbort, { once: true });
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    run(controller.signal),
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        const err = new ListTimeoutError(`list did not answer within ${ms} ms`);
        controller.abort(err);
        reject(err);
      }, ms);
    }),
  ]).finally(() => {
    clearTimeout(timer);
    parent.removeEventListener('abort', onAbort);
  });
}

/** A list's error answer as an error: a Kubernetes Status says why; anything else is its status line. */
async function listError(response: Awaited<ReturnType<typeof fetch>>): Promise<ListError> {
  let reason: string | undefined;
  try {
    const status = (await response.json()) as { message?: unknown } | null;
    if (typeof status?.message === 'string') reason = status.message;
  } catch {
    // not a Status (a proxy's page, an empty body): the status line says what is known
  }
  const statusText = response.statusText || STATUS_CODES[response.status] || 'unexpected status';
  return new ListError(response.status, reason ? `${statusText}: ${reason}` : statusText);
}

function describe(err: unknown): string {
  if (err instanceof Error) {
    const code =
      (err as { code?: unknown; statusCode?: unknown }).code ?? (err as { statusCode?: unknown }).statusCode;
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    const detail = cause?.code ?? cause?.message;
    return [
      err.name !== 'Error' ? err.name : undefined,
      code !== undefined ? `HTTP ${String(code)}` : undefined,
      err.message.split('\n')[0]?.slice(0, 200),
      detail,
    ]
      .filter(Boolean)
      .join(': ');
  }
  return String(err).slice(0, 200);
}

/** One informer source with its generations, backoff and watchdog. */
export class SourceWatcher implements IndexSource {
  readonly labelSelector: string;
  private readonly path: string;
  private active: Generation | undefined;
  private pending: Generation | undefined;
  private nextId = 1;
  private state: SourceState = 'starting';
  private lastSyncAt: number | undefined;
  private lastError: string | undefined;
  private errorSince: number | undefined;
  private attempt = 0;
  private restarts = 0;
  private retryTimer: NodeJS.Timeout | undefined;
  private resyncTimer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(
    readonly spec: SourceSpec,
    private readonly kc: KubeConfig,
    private readonly options: WatcherOptions,
    private readonly logger: Logger,
    private readonly events: WatcherEvents = {},
  ) {
    this.labelSelector = labelSelectorFor(spec, options.extraSelector);
    this.path = `/api/v1/namespaces/${encodeURIComponent(options.namespace)}/${spec.kind}`;
  }

  start(): void {
    this.stopped = false;
    this.spawn('start');
    this.resyncTimer = setInterval(() => this.resync(), this.options.resyncIntervalMs);
    this.resyncTimer.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.state = 'stopped';
    clearTimeout(this.retryTimer);
    clearInterval(this.resyncTimer);
    await Promise.all([this.active, this.pending].map((g) => g && this.kill(g)));
  }

  current(): SourceIndex | undefined {
    return this.active?.index;
  }

  /** Synced, or lost its watch less than the grace period ago (then answers from the last state). */
  usable(): boolean {
    if (this.state === 'synced') return true;
    return (
      this.active?.listed === true &&
      this.errorSince !== undefined &&
      Date.now() - this.errorSince < this.options.staleGraceMs
    );
  }

  /** Ready = the last list succeeded and the watch has not failed since. */
  isSynced(): boolean {
    return this.state === 'synced';
  }

  status(): SourceStatus {
    const index = this.current();
    return {
      kind: this.spec.kind,
      labelSelector: this.labelSelector,
      state: this.state,
      objects: index?.objectCount ?? 0,
      sessions: index?.sessionCount ?? 0,
      ...(this.lastSyncAt ? { lastSyncAt: new Date(this.lastSyncAt).toISOString() } : {}),
      ...(this.lastError ? { lastError: this.lastError } : {}),
      ...(this.errorSince ? { errorSince: new Date(this.errorSince).toISOString() } : {}),
      restarts: this.restarts,
    };
  }

  /** Watchdog: a fresh list in a new generation, swapped in when it is complete. */
  resync(): void {
    if (this.stopped || this.pending || this.retryTimer) return;
    this.events.onResync?.(this.spec);
    this.spawn('resync');
  }

  /** The kind's list under the selector, as projections. */
  private async list(signal: AbortSignal): Promise<ProjectedList> {
    const cluster = this.kc.getCurrentCluster();
    if (!cluster) throw new Error('the kubeconfig has no current cluster');
    const url = new URL(cluster.server + this.path);
    url.searchParams.set('labelSelector', this.labelSelector);
    // The kubeconfig's credentials and TLS settings, applied as client-node's Watch applies them.
    const context = new RequestContext(url.toString(), HttpMethod.GET);
    await this.kc.applySecurityAuthentication(context);
    const dispatcher = context.getDispatcher();
    try {
      const response = await fetch(url, {
        headers: { ...context.getHeaders(), accept: 'application/json' },
        dispatcher,
        signal,
      });
      if (response.status !== 200) throw await listError(response);
      const list = (await response.json()) as {
        metadata?: { resourceVersion?: string };
        items?: LabelledObject[] | null;
      };
      return {
        metadata: { resourceVersion: list.metadata?.resourceVersion },
        items: (list.items ?? []).map((o) => project(o, this.spec)),
      };
    } finally {
      // client-node builds a dispatcher per request from the TLS options: close its connection now.
      dispatcher?.close().catch(() => undefined);
    }
  }

  private spawn(why: string): void {
    if (this.stopped) return;
    const gen = {
      id: this.nextId++,
      index: new SourceIndex(this.spec),
      dead: false,
      listed: false,
      abort: new AbortController(),
    } as Generation;
    const listFn = async () => {
      const list = await withTimeout(
        (signal) => this.list(signal),
        this.options.listTimeoutMs,
        gen.abort.signal,
      );
      // A superseded generation must not go on to open a watch.
      if (gen.dead) throw new Error('superseded');
      gen.index.reset(list.items);
      this.onListed(gen);
      return list;
    };
    // makeInformer's ListWatch, with a watch that projects every event.
    gen.informer = new ListWatch<KubernetesObject>(
      this.path,
      new ProjectingWatch(this.kc, this.spec),
      listFn as () => Promise<{ items: KubernetesObject[]; metadata?: { resourceVersion?: string } }>,
      false,
      this.labelSelector,
    ) as Informer<KubernetesObject>;
    gen.informer.on('add', (o) => gen.dead || gen.index.upsert(o as LabelledObject));
    gen.informer.on('update', (o) => gen.dead || gen.index.upsert(o as LabelledObject));
    gen.informer.on('delete', (o) => gen.dead || gen.index.remove(o as LabelledObject));
    gen.informer.on('connect', () => gen.dead || this.events.onConnect?.(this.spec));
    gen.informer.on('error', (err) => this.onError(gen, err));
    // The first generation serves at once; later ones (retry, resync) are swapped in once listed,
    // so the previous index keeps answering (within the grace period) meanwhile.
    if (this.active === undefined) this.active = gen;
    else this.pending = gen;
    this.logger.debug('informer generation starting', {
      kind: this.spec.kind,
      selector: this.labelSelector,
      generation: gen.id,
      why,
    });
    gen.informer.start().catch((err: unknown) => this.onError(gen, err));
  }

  private onListed(gen: Generation): void {
    gen.listed = true;
    if (this.pending === gen) {
      const old = this.active;
      this.active = gen;
      this.pending = undefined;
      if (old && old !== gen) void this.kill(old);
    }
    if (this.active !== gen) return;
    const wasSynced = this.state === 'synced';
    this.state = 'synced';
    this.lastSyncAt = Date.now();
    this.lastError = undefined;
    this.errorSince = undefined;
    this.attempt = 0;
    if (!wasSynced) {
      this.logger.info('informer synced', {
        kind: this.spec.kind,
        selector: this.labelSelector,
        objects: gen.index.objectCount,
        generation: gen.id,
      });
    }
  }

  private onError(gen: Generation, err: unknown): void {
    if (gen.dead || this.stopped) return;
    void this.kill(gen);
    const reason = describe(err);
    this.restarts++;
    this.events.onRestart?.(this.spec, reason);
    if (this.pending === gen) this.pending = undefined;
    if (this.active && !this.active.dead) {
      // A resync list failed while the running watch is healthy: the next resync tries again.
      this.logger.warn('resync failed, keeping the running watch', {
        kind: this.spec.kind,
        selector: this.labelSelector,
        error: reason,
      });
      return;
    }
    this.state = 'error';
    this.lastError = reason;
    this.errorSince ??= Date.now();
    const delay = this.backoffDelay();
    this.logger.warn('informer failed, re-listing after backoff', {
      kind: this.spec.kind,
      selector: this.labelSelector,
      error: reason,
      retryInMs: delay,
      generation: gen.id,
    });
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.spawn('retry');
    }, delay);
    this.retryTimer.unref();
  }

  private backoffDelay(): number {
    this.attempt = Math.min(this.attempt + 1, 31);
    // Jitter on the upper half: spreads restarts of many replicas, never below half the ceiling.
    return backoffDelay(this.attempt, this.options.backoff, Math.random, 'half');
  }

  private async kill(gen: Generation): Promise<void> {
    gen.dead = true;
    gen.abort.abort(new Error('superseded'));
    const stop = async () => {
      try {
        await gen.informer.stop();
      } catch {
        // stopping aborts the request; nothing else to do
      }
    };
    // ListWatch only learns its watch request once the response headers are in; a stop() racing
    // that window leaves the watch open. Repeating the (idempotent) stop closes it soon after.
    for (const ms of [250, 1_000, 5_000]) setTimeout(() => void stop(), ms).unref();
    await stop();
  }
}

/** All sources of the app: pods for every label pair, then services for every pair (fallback). */
export class SessionWatcher {
  readonly sources: SourceWatcher[];

  constructor(
    specs: SourceSpec[],
    kc: KubeConfig,
    options: WatcherOptions,
    logger: Logger,
    events: WatcherEvents = {},
  ) {
    this.sources = specs.map(
      (spec) => new SourceWatcher(spec, kc, options, logger.child({ component: 'informer' }), events),
    );
  }

  start(): void {
    for (const s of this.sources) s.start();
  }

  async stop(): Promise<void> {
    await Promise.all(this.sources.map((s) => s.stop()));
  }

  resync(): void {
    for (const s of this.sources) s.resync();
  }

  isSynced(): boolean {
    return this.sources.every((s) => s.isSynced());
  }

  status(): { synced: boolean; sources: SourceStatus[] } {
    return { synced: this.isSynced(), sources: this.sources.map((s) => s.status()) };
  }
}
