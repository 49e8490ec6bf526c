// Wires the real dependencies together (informers, index, metrics, app, server); shared by main.ts
// and the tests so both run exactly the same service.
import {
  ConfigError,
  createMetrics,
  serve,
  type Logger,
  type RunningServer,
} from '@auth-sidecars/service-kit';
import { KubeConfig } from '@kubernetes/client-node';
import type { RequestListener } from 'node:http';
import { createProbeApp, createListener } from './app.js';
import type { Config } from './config.js';
import { SERVICE } from './constants.js';
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
  config: Pick<Config, 'lookupServices' | 'sessionIdLabels' | 'userIdLabels'>,
): SourceSpec[] {
  const kinds = config.lookupServices ? (['pods', 'services'] as const) : (['pods'] as const);
  return kinds.flatMap((kind) =>
    config.sessionIdLabels.map((idLabel, i) => ({ kind, idLabel, userLabel: config.userIdLabels[i]! })),
  );
}

export interface ServiceOptions {
  logger: Logger;
  /** The API server and credentials; loadKubeConfig() when absent (tests pass the stand-in's). */
  kubeConfig?: KubeConfig;
}

/** In-cluster, KUBECONFIG or ~/.kube/config, as loadFromDefault does; nothing found is a ConfigError. */
export function loadKubeConfig(): KubeConfig {
  const kc = new KubeConfig();
  try {
    kc.loadFromDefault();
  } catch (err) {
    throw new ConfigError([
      `KUBECONFIG: cannot load kubeconfig: ${err instanceof Error ? err.message : String(err)}`,
    ]);
  }
  const server = kc.getCurrentCluster()?.server;
  // loadFromDefault's last resort when nothing is configured; it can never work here.
  if (!server || server === 'http://localhost:8080') {
    throw new ConfigError([
      'KUBECONFIG: no kubeconfig found (KUBECONFIG, ~/.kube/config) and not running in a cluster',
    ]);
  }
  return kc;
}

export async function startService(config: Config, options: ServiceOptions): Promise<RunningService> {
  const { logger } = options;
  const kc = options.kubeConfig ?? loadKubeConfig();
  const metrics = createMetrics(SERVICE);
  const decisionMetrics = createDecisionMetrics(metrics.registry);
  const label = (s: SourceSpec) => ({ kind: s.kind, selector: `${s.idLabel},${s.userLabel}` });
  const watcher = new SessionWatcher(
    sourceSpecs(config),
    kc,
    {
      namespace: config.targetNamespace,
      extraSelector: config.extraLabelSelector,
      resyncIntervalMs: config.resyncIntervalMs,
      listTimeoutMs: config.listTimeoutMs,
      backoff: { initialMs: config.relistBackoffInitialMs, maxMs: config.relistBackoffMaxMs },
      staleGraceMs: config.staleGraceMs,
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
    namespace: config.targetNamespace,
    server: kc.getCurrentCluster()?.server,
    sources: watcher.sources.map((s) => ({ kind: s.spec.kind, labelSelector: s.labelSelector })),
  });
  // Unready until every informer has listed; probes are answered meanwhile.
  watcher.start();
  const deps = { index, watcher, logger, metrics, decisionMetrics };
  const serveOn = (handler: RequestListener, port: number, log: Logger) =>
    serve(handler, { host: config.host, port, logger: log, shutdownTimeoutMs: config.shutdownTimeoutMs });
  const servers: RunningServer[] = [];
  try {
    // The decision port first: its `listening` line is the one launchers read for the URL.
    servers.push(await serveOn(createListener(config, deps), config.port, logger));
    if (config.probePort !== 'off')
      servers.push(
        await serveOn(createProbeApp(deps), config.probePort, logger.child({ component: 'probes' })),
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
