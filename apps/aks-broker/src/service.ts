// Wires the real dependencies (deps.ts), the app and the HTTPS/HTTP listener (WebSocket handshakes
// on /k8s included); shared by main.ts and the tests so both run exactly the same service.
import { readFile } from 'node:fs/promises';
import { createMetrics, serve, type Logger } from '@auth-sidecars/service-kit';
import { createApp } from './app.js';
import type { BrokerConfig } from './config.js';
import { SERVICE } from './constants.js';
import { buildDeps, type BuiltDeps } from './deps.js';
import { attachKubeUpgrades } from './kube-upgrade.js';
import { createBrokerMetrics } from './metrics.js';

export interface RunningService {
  url: string;
  /** The store, sealing box and clients the app runs on (tests inspect the store through them). */
  deps: BuiltDeps;
  /** Graceful stop; resolves false when the drain deadline was blown. */
  close(): Promise<boolean>;
}

export interface ServiceOptions {
  logger: Logger;
  /** How long close() waits for in-flight requests and streams (serve()'s default when absent). */
  shutdownTimeoutMs?: number;
}

export async function startService(config: BrokerConfig, options: ServiceOptions): Promise<RunningService> {
  const { logger } = options;
  const metrics = createMetrics(SERVICE);
  const brokerMetrics = createBrokerMetrics(metrics.registry);
  const deps = await buildDeps(config, { logger, brokerMetrics });
  // Warm up: fetch the authority metadata now; readiness keeps retrying if Entra is not reachable yet.
  await deps.entra
    .loadMetadata()
    .catch((error: unknown) =>
      logger.warn('identity provider not reachable yet', { reason: (error as Error).message }),
    );
  const app = createApp(config, { logger, metrics, brokerMetrics, ...deps });
  const tls = config.tls
    ? { cert: await readFile(config.tls.certFile), key: await readFile(config.tls.keyFile) }
    : undefined;
  const server = await serve(app, {
    host: config.host,
    port: config.port,
    logger,
    tls,
    shutdownTimeoutMs: options.shutdownTimeoutMs,
  }).catch(async (error: unknown) => {
    await deps.close();
    throw error;
  });
  attachKubeUpgrades(server.server, app);
  logger.info('aks-broker ready', {
    store: deps.store.kind,
    apiServer: config.kube.apiUrl,
    authority: deps.entra.authority,
    publicUrl: config.publicUrl,
  });
  return {
    url: server.url,
    deps,
    close: async () => {
      const drained = await server.close();
      await deps.close();
      return drained;
    },
  };
}
