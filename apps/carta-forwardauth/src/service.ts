// Wires the real dependencies together (informers, index, metrics, app, server); shared by main.ts
// and the tests so both run exactly the same service.
import { createMetrics, serve, type Logger, type RunningServer } from '@auth-sidecars/service-kit';
import type { KubeConfig } from '@kubernetes/client-node';
import type { RequestListener } from 'node:http';
import { createProbeApp, createRequestListener } from './app.js';
import type { Config } from './config.js';
import { SERVICE_NAME } from './constants.js';
import { createDecisionMetrics, registerCacheGauges } from './metrics.js';
import { SessionIndex, type SourceSpec } from './session-index.js';
import { SessionWatcher } from './session-watcher.js';

export interface RunningService {
  /** The decisions. */
  url: string;
  /** /livez, /readyz, /metrics: the probe port, or `url` with PROBE_PORT=off. */
  probeUrl: string;
  server: RunningServer;
  watcher: SessionWatcher;
  index: SessionIndex;
  close(): Promise<boolean>;
}

/** Pods for every label pair (new keys first), then services for every pair as the fallback. */
export function sourceSpecs(
  config: Pick<Config, 'LOOKUP_SERVICES' | 'SESSION_ID_LABELS' | 'USER_ID_LABELS'>,
): SourceSpec[] {
  const kinds = config.LOOKUP_SERVICES ? (['pods', 'services'] as const) : (['pods'] as const);
  return kinds.flatMap((kind) =>
    config.SESSION_ID_LABELS.map((idLabel, i) => ({ kind, idLabel, userLabel: config.USER_ID_LABELS[i]! })),
  );
}

export async function startService(config: Config, kc: KubeConfig, logger: Logger): Promise<RunningService> {
  const metrics = createMetrics(SERVICE_NAME);
  const decisionMetrics = createDecisionMetrics(metrics.registry);
  const label = (s: SourceSpec) => ({ kind: s.kind, selector: `${s.idLabel},${s.userLabel}` });
  const watcher = new SessionWatcher(
    sourceSpecs(config),
    kc,
    {
      namespace: config.TARGET_NAMESPACE,
      extraSelector: config.EXTRA_LABEL_SELECTOR,
      resyncIntervalMs: config.RESYNC_INTERVAL,
      listTimeoutMs: config.LIST_TIMEOUT,
      backoff: { initialMs: config.RELIST_BACKOFF_INITIAL, maxMs: config.RELIST_BACKOFF_MAX },
      staleGraceMs: config.STALE_GRACE,
    },
    logger,
    {
      onRestart: (s) => decisionMetrics.watchRestarts.inc(label(s)),
      onConnect: (s) => decisionMetrics.watchConnects.inc(label(s)),
      onResync: (s) => decisionMetrics.resyncs.inc(label(s)),
    },
  );
  const index = new SessionIndex(watcher.sources);
  registerCacheGauges(metrics.registry, index, watcher);
  logger.info('watching sessions', {
    namespace: config.TARGET_NAMESPACE,
    server: kc.getCurrentCluster()?.server,
    sources: watcher.sources.map((s) => ({ kind: s.spec.kind, labelSelector: s.labelSelector })),
  });
  // Unready until every informer has listed; probes are answered meanwhile.
  watcher.start();
  const deps = { index, watcher, logger, metrics, decisionMetrics };
  const serveOn = (handler: RequestListener, port: number, log: Logger) =>
    serve(handler, { host: config.HOST, port, logger: log, shutdownTimeoutMs: config.SHUTDOWN_TIMEOUT });
  const servers: RunningServer[] = [];
  try {
    // The decision port first: its `listening` line is the one launchers read for the URL.
    servers.push(await serveOn(createRequestListener(config, deps), config.PORT, logger));
    if (config.PROBE_PORT !== 'off')
      servers.push(
        await serveOn(createProbeApp(deps), config.PROBE_PORT, logger.child({ component: 'probes' })),
      );
  } catch (err) {
    await Promise.all(servers.map((s) => s.close()));
    await watcher.stop();
    throw err;
  }
  const server = servers[0]!;
  return {
    url: server.url,
    probeUrl: (servers[1] ?? server).url,
    server,
    watcher,
    index,
    async close() {
      // Probes answer while the decisions drain (readiness reports the truth until the end).
      const drained = await server.close();
      const probesDrained = await Promise.all(servers.slice(1).map((s) => s.close()));
      await watcher.stop();
      return drained && probesDrained.every(Boolean);
    },
  };
}
