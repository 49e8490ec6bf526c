// Wires the real dependencies together (credential, client policy, per-scope token providers,
// metrics, listener, server); shared by main.ts and the tests so both run exactly the same service.
import { readFileSync } from 'node:fs';
import { createCredential, TokenProvider } from '@auth-sidecars/auth-core';
import { createMetrics, serve, type Logger } from '@auth-sidecars/service-kit';
import { createListener } from './app.js';
import type { TokenServerConfig } from './config.js';
import { ENV, SERVICE } from './constants.js';
import { exposureWarning } from './exposure.js';
import { PolicyStore } from './policy.js';
import { canonicalScope } from './scope.js';
import { ScopeTokens } from './tokens.js';

export interface RunningService {
  url: string;
  /** Graceful stop; resolves false when the drain deadline was blown. */
  close(): Promise<boolean>;
}

export async function startService(
  config: Readonly<TokenServerConfig>,
  { logger }: { logger: Logger },
): Promise<RunningService> {
  for (const warning of config.warnings) logger.warn(warning);
  const credential = createCredential(config.credential, {
    logger: logger.child({ component: 'credential' }),
  });
  const metrics = createMetrics(SERVICE);
  const policyStore = new PolicyStore({
    secret: config.secret,
    secretFile: config.secretFile,
    allowedScopes: config.allowedScopes,
    clientsJson: config.clientsJson,
    clientsFile: config.clientsFile,
  });
  const providerLog = logger.child({ component: 'token-provider' });
  const tokens = new ScopeTokens({
    createProvider: (scope) =>
      new TokenProvider({ credential, scope, logger: providerLog, registry: metrics.registry }),
    maxScopes: config.maxScopes,
    idleMs: config.scopeIdleSeconds * 1000,
    minValidityMs: config.minValiditySeconds * 1000,
    // Keyed like requests (Issuer.issue): one canonical spelling per resource.
    warmScopes: config.warmScopes.map(canonicalScope),
    onEvict: (scope) => providerLog.info('scope provider stopped (least recently used or idle)', { scope }),
  });

  const host = config.host;
  const certPath = config.tlsCertFile;
  const keyPath = config.tlsKeyFile;
  const tls = certPath && keyPath ? { cert: readFileSync(certPath), key: readFileSync(keyPath) } : undefined;
  const warning = exposureWarning(host, tls !== undefined);
  if (warning) {
    logger.warn(warning, {
      host,
      hint: `set ${ENV.tlsCertFile} and ${ENV.tlsKeyFile}, or bind ${ENV.host}=127.0.0.1 in a pod's shared network namespace`,
    });
  }
  for (const name of config.selfLoopVariables) {
    logger.warn(`${name} is set in the token-server's own environment; its credential may call itself`, {
      variable: name,
    });
  }
  const clients = policyStore.current.clients;
  logger.info('clients loaded', {
    clients: clients.map((c) => ({ name: c.name, secrets: c.secretCount, scopes: c.scopes })),
  });

  const reloadSeconds = config.policyReloadSeconds;
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

  const listener = createListener(config, {
    logger,
    metrics,
    policy: () => policyStore.current,
    tokens,
  });
  const server = await serve(listener, { host, port: config.port, logger, ...(tls ? { tls } : {}) });
  return {
    url: server.url,
    async close() {
      clearInterval(reloadTimer);
      const drained = await server.close();
      tokens.stop();
      return drained;
    },
  };
}
