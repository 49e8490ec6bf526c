// carta-forwardauth's own Prometheus metrics: decisions by result and reason, cache size, informer
// sync state and watch restarts, registered in the service-kit registry next to the HTTP metrics.
import { Counter, Gauge, type Registry } from 'prom-client';
import { METRICS } from './constants.js';
import type { SessionIndex } from './session-index.js';
import type { SessionWatcher } from './session-watcher.js';

export interface DecisionMetrics {
  decisions: Counter<'result' | 'reason'>;
  watchRestarts: Counter<'kind' | 'selector'>;
  watchConnects: Counter<'kind' | 'selector'>;
  resyncs: Counter<'kind' | 'selector'>;
}

export function createDecisionMetrics(registry: Registry): DecisionMetrics {
  return {
    decisions: new Counter({
      name: METRICS.decisions,
      help: 'ForwardAuth decisions by result (allow, deny, unavailable) and deny reason.',
      labelNames: ['result', 'reason'] as const,
      registers: [registry],
    }),
    watchRestarts: new Counter({
      name: METRICS.watchRestarts,
      help: 'Informer failures that led to a fresh list and watch (after backoff).',
      labelNames: ['kind', 'selector'] as const,
      registers: [registry],
    }),
    watchConnects: new Counter({
      name: METRICS.watchConnects,
      help: 'Informer (re)connects: initial start, watch ends and reconnects.',
      labelNames: ['kind', 'selector'] as const,
      registers: [registry],
    }),
    resyncs: new Counter({
      name: METRICS.resyncs,
      help: 'Periodic watchdog re-lists.',
      labelNames: ['kind', 'selector'] as const,
      registers: [registry],
    }),
  };
}

/** Gauges read at scrape time from the live index and watcher. */
export function registerCacheGauges(registry: Registry, index: SessionIndex, watcher: SessionWatcher): void {
  new Gauge({
    name: METRICS.sessions,
    help: 'Distinct session ids currently in the cache.',
    registers: [registry],
    collect() {
      this.set(index.sessionCount());
    },
  });
  new Gauge({
    name: METRICS.objects,
    help: 'Labelled pods/services currently indexed, per informer.',
    labelNames: ['kind', 'selector'] as const,
    registers: [registry],
    collect() {
      for (const s of watcher.sources)
        this.set({ kind: s.spec.kind, selector: s.labelSelector }, s.current()?.objectCount ?? 0);
    },
  });
  new Gauge({
    name: METRICS.synced,
    help: '1 when the informer has listed and its watch has not failed since.',
    labelNames: ['kind', 'selector'] as const,
    registers: [registry],
    collect() {
      for (const s of watcher.sources)
        this.set({ kind: s.spec.kind, selector: s.labelSelector }, s.isSynced() ? 1 : 0);
    },
  });
}
