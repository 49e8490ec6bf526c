// The service both token-injecting proxies start (their service.ts): credential, token provider
// (fail fast unless START_WITHOUT_TOKEN), forwarder, WebSocket passthrough, server, and the drain
// order on close.
import type { RequestListener } from 'node:http';
import { createCredential, TokenProvider, type CredentialConfig } from '@auth-sidecars/auth-core';
import { createMetrics, serve, type Logger, type Metrics } from '@auth-sidecars/service-kit';
import type { ProxySettings } from './config.js';
import { createForwarder, type Forwarder } from './forwarder.js';
import { forwardMetrics } from './metrics.js';
import type { ProbedTokens } from './readiness.js';
import { createUpgradeProxy, type UpgradeProxyOptions } from './upgrade.js';
import { refuseConnect } from './request-guard.js';
import { warmUp, type WarmUpRequest } from './warmup.js';

export interface TokenProxyConfig extends ProxySettings {
  host: string;
  port: number;
  scope: string;
  credential: CredentialConfig;
  /** TokenProvider's refreshFraction (auth-core's default when undefined). */
  refreshFraction?: number | undefined;
  /** Logged as warnings right after the config is loaded, before anything can fail. */
  warnings?: readonly string[];
}

export interface TokenProxyDeps {
  tokens: TokenProvider;
  forwarder: Forwarder;
  logger: Logger;
  metrics: Metrics;
}

/** What an app adds to the shared proxy: its upstream, its routes and its upgrades. */
/** What a proxy app's routes get: the token source as its probes read it, the forwarder, logs, metrics. */
export interface ProxyAppDeps {
  /** getToken: a failing probe counts as demand (tokenReadiness, seedProbe). */
  tokens: ProbedTokens;
  forwarder: Forwarder;
  logger: Logger;
  metrics: Metrics;
}

export interface TokenProxyApp<C extends TokenProxyConfig> {
  /** Upstream base URL the forwarder sends to. */
  upstream(config: Readonly<C>): string;
  createListener(config: Readonly<C>, deps: TokenProxyDeps): RequestListener;
  /** WebSocket passthrough (upgrade.ts): which upgrades are taken; absent, none are. */
  upgrades?(config: Readonly<C>): Pick<UpgradeProxyOptions, 'accepts' | 'dropSubprotocol'>;
  /** Requests that take the forwarded path, sent through it before the proxy reports ready (warmup.ts). */
  warmUpRequests(config: Readonly<C>): readonly WarmUpRequest[];
}

export interface RunningTokenProxy {
  url: string;
  /** Graceful stop; resolves false when the drain deadline was blown. */
  close(): Promise<boolean>;
}

export async function startTokenProxy<C extends TokenProxyConfig>(
  service: string,
  app: TokenProxyApp<C>,
  config: Readonly<C>,
  { logger }: { logger: Logger },
): Promise<RunningTokenProxy> {
  for (const warning of config.warnings ?? []) logger.warn(warning);
  const upstream = app.upstream(config);
  const metrics = createMetrics(service);
  const credential = createCredential(config.credential, {
    logger: logger.child({ component: 'credential' }),
  });
  const tokens = new TokenProvider({
    credential,
    scope: config.scope,
    refreshFraction: config.refreshFraction,
    logger: logger.child({ component: 'token' }),
    registry: metrics.registry,
  });
  if (config.startWithoutToken) tokens.startInBackground();
  else await tokens.start();

  const { record } = forwardMetrics(metrics.registry);
  const forwarder = createForwarder({
    target: upstream,
    tokens,
    timeouts: config.timeouts,
    maxSockets: config.maxConnections,
    logger: logger.child({ component: 'forwarder' }),
    onResult: record,
  });
  const upgradePolicy = app.upgrades?.(config);
  const upgrades =
    upgradePolicy &&
    createUpgradeProxy({
      ...upgradePolicy,
      target: upstream,
      tokens,
      timeouts: config.timeouts,
      maxSockets: config.maxConnections,
      logger: logger.child({ component: 'websocket' }),
      onResult: record,
    });
  // Before listening, so the first request after /readyz turns 200 finds its path compiled.
  const warmStarted = performance.now();
  await warmUp({
    service,
    level: logger.level,
    requests: app.warmUpRequests(config),
    listener: (deps) => app.createListener(config, { ...deps, tokens }),
    forwarder: { timeouts: config.timeouts, maxSockets: config.maxConnections },
  });
  const warmUpMs = Math.round(performance.now() - warmStarted);
  const server = await serve(app.createListener(config, { tokens, forwarder, logger, metrics }), {
    host: config.host,
    port: config.port,
    logger,
    shutdownTimeoutMs: config.shutdownTimeoutMs,
    headersTimeoutMs: config.clientHeadersTimeoutMs,
    maxConnections: config.clientMaxConnections,
  });
  upgrades?.attach(server.server);
  server.server.on('connect', refuseConnect);
  logger.info('forwarding', { upstream: new URL(upstream).origin, scope: config.scope, warmUpMs });
  return {
    url: server.url,
    close: async () => {
      const drained = await server.close();
      tokens.stop();
      await forwarder.close();
      await upgrades?.close();
      return drained;
    },
  };
}
