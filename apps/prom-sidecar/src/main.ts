// prom-sidecar entry point: config (with aad-auth-proxy aliases), credential from the AZURE_*
// variables, token provider (fail fast unless START_WITHOUT_TOKEN), forwarder, server, drain on SIGTERM.
import { createCredential, TokenProvider } from '@auth-sidecars/auth-core';
import { createForwarder, forwardMetrics } from '@auth-sidecars/proxy-kit';
import { createMetrics, runMain, serve } from '@auth-sidecars/service-kit';
import { createListener } from './app.js';
import { loadPromSidecarConfig } from './config.js';
import { SERVICE } from './constants.js';

await runMain(SERVICE, async ({ env, logger }) => {
  const config = loadPromSidecarConfig(env);
  const metrics = createMetrics(SERVICE);
  const credential = createCredential(config.credential, {
    logger: logger.child({ component: 'credential' }),
  });
  const tokens = new TokenProvider({
    credential,
    scope: config.scope,
    logger: logger.child({ component: 'token' }),
    registry: metrics.registry,
  });
  if (config.startWithoutToken) tokens.startInBackground();
  else await tokens.start();

  const forwarder = createForwarder({
    target: config.queryEndpoint,
    tokens,
    timeouts: config.timeouts,
    maxSockets: config.maxConnections,
    logger: logger.child({ component: 'forwarder' }),
    onResult: forwardMetrics(metrics.registry).record,
  });
  const listener = createListener(config, { tokens, forwarder, logger, metrics });
  const server = await serve(listener, {
    host: config.host,
    port: config.port,
    logger,
    shutdownTimeoutMs: config.shutdownTimeoutMs,
  });
  logger.info('forwarding', { upstream: new URL(config.queryEndpoint).origin, scope: config.scope });
  return {
    close: async () => {
      const drained = await server.close();
      tokens.stop();
      await forwarder.close();
      return drained;
    },
  };
});
