// Process entry: env -> config -> real dependencies -> app -> HTTPS/HTTP listener (WebSocket
// handshakes on /k8s included), signals via runMain.
import { readFile } from 'node:fs/promises';
import { createMetrics, runMain, serve } from '@auth-sidecars/service-kit';
import { createApp } from './app.js';
import { loadBrokerConfig } from './config.js';
import { buildDeps } from './deps.js';
import { attachKubeUpgrades } from './kube-upgrade.js';
import { createBrokerMetrics } from './metrics.js';

await runMain('aks-broker', async ({ env, logger }) => {
  const config = loadBrokerConfig(env);
  const metrics = createMetrics('aks-broker');
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
  const server = await serve(app, { host: config.host, port: config.port, logger, tls });
  attachKubeUpgrades(server.server, app);
  logger.info('aks-broker ready', {
    store: deps.store.kind,
    apiServer: config.kube.apiUrl,
    authority: deps.entra.authority,
    publicUrl: config.publicUrl,
  });
  return {
    close: async () => {
      const drained = await server.close();
      await deps.close();
      return drained;
    },
  };
});
