// Entry point: reads the environment, builds the credential, policy and per-scope providers, serves.
import { readFileSync } from 'node:fs';
import { createCredential, credentialConfigFromEnv, TokenProvider } from '@auth-sidecars/auth-core';
import { createMetrics, runMain, serve } from '@auth-sidecars/service-kit';
import { createRequestListener } from './app.js';
import { loadTokenServerConfig } from './config.js';
import { ENV, SELF_LOOP_ENV, SERVICE_NAME } from './constants.js';
import { exposureWarning } from './exposure.js';
import { PolicyStore } from './policy.js';
import { canonicalScope } from './scope.js';
import { ScopeTokens } from './tokens.js';

await runMain(
  SERVICE_NAME,
  async ({ env, logger }) => {
    const config = loadTokenServerConfig(env);
    const credential = createCredential(credentialConfigFromEnv(config), {
      logger: logger.child({ component: 'credential' }),
    });
    const metrics = createMetrics(SERVICE_NAME);
    const policyStore = new PolicyStore({
      secret: config[ENV.secret],
      secretFile: config[ENV.secretFile],
      allowedScopes: config[ENV.allowedScopes],
      clientsJson: config[ENV.clients],
      clientsFile: config[ENV.clientsFile],
    });
    const providerLog = logger.child({ component: 'token-provider' });
    const tokens = new ScopeTokens({
      createProvider: (scope) =>
        new TokenProvider({ credential, scope, logger: providerLog, registry: metrics.registry }),
      maxScopes: config[ENV.maxScopes],
      idleMs: config[ENV.scopeIdleSeconds] * 1000,
      minValidityMs: config[ENV.minValiditySeconds] * 1000,
      // Keyed like requests (Issuer.issue): one canonical spelling per resource.
      warmScopes: config[ENV.warmScopes].map(canonicalScope),
      onEvict: (scope) => providerLog.info('scope provider stopped (least recently used or idle)', { scope }),
    });

    const host = config[ENV.host];
    const certPath = config[ENV.tlsCertPath];
    const keyPath = config[ENV.tlsKeyPath];
    const tls =
      certPath && keyPath ? { cert: readFileSync(certPath), key: readFileSync(keyPath) } : undefined;
    const warning = exposureWarning(host, tls !== undefined);
    if (warning) {
      logger.warn(warning, {
        host,
        hint: `set ${ENV.tlsCertPath} and ${ENV.tlsKeyPath}, or bind ${ENV.host}=127.0.0.1 in a pod's shared network namespace`,
      });
    }
    for (const name of SELF_LOOP_ENV) {
      if (env[name])
        logger.warn(`${name} is set in the token-server's own environment; its credential may call itself`, {
          variable: name,
        });
    }
    const clients = policyStore.current.clients;
    logger.info('clients loaded', {
      clients: clients.map((c) => ({ name: c.name, secrets: c.secretCount, scopes: c.scopes })),
    });

    const reloadSeconds = config[ENV.policyReloadSeconds];
    const reloadTimer =
      reloadSeconds > 0
        ? setInterval(() => {
            try {
              if (policyStore.reload())
                logger.info('clients reloaded', { clients: policyStore.current.clients.map((c) => c.name) });
            } catch (err) {
              logger.error('clients reload failed; previous clients stay in force', { err });
            }
          }, reloadSeconds * 1000).unref()
        : undefined;

    const listener = createRequestListener(config, {
      logger,
      metrics,
      policy: () => policyStore.current,
      tokens,
    });
    const server = await serve(listener, { host, port: config[ENV.port], logger, ...(tls ? { tls } : {}) });
    return {
      async close() {
        clearInterval(reloadTimer);
        const drained = await server.close();
        tokens.stop();
        return drained;
      },
    };
    // One audit line per issuance: written in batches, one stdout write per event-loop turn.
  },
  { logBatchDefault: true },
);
