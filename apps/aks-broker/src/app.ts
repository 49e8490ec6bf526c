// Builds the broker's Express app from config and ready-made dependencies (no I/O, no env here).
// The middleware order is the `pipeline` array below, readable top to bottom.
import { join } from 'node:path';
import express, { type RequestHandler, type Router } from 'express';
import type { RateLimiterAbstract } from 'rate-limiter-flexible';
import {
  baseMiddleware,
  dropBodyAfterAnswer,
  errorHandler,
  healthRoutes,
  metricsRoute,
  notFoundHandler,
  routeLabel,
  type Logger,
  type Metrics,
} from '@auth-sidecars/service-kit';
import type { BrokerConfig } from './config.js';
import { PATHS, SECURITY_HEADERS } from './constants.js';
import { AuditLog } from './audit.js';
import { authRoutes, csrfGuard, loadSession, refuseOtherSites } from './auth.js';
import { credentialCaller, forBrowsers, sessionCaller } from './caller.js';
import { credentialRoutes } from './credential-routes.js';
import { CliCredentials } from './credentials.js';
import { CookieSigner } from './cookies.js';
import type { CryptoBox } from './crypto-box.js';
import type { EntraClient } from './entra.js';
import { kubeProxy, type KubeClient } from './kube.js';
import { meRoutes } from './me.js';
import { createBrokerMetrics, type BrokerMetrics } from './metrics.js';
import { rateLimitByUser } from './rate-limit.js';
import { LoginStates } from './login-state.js';
import { SessionStore } from './sessions.js';
import type { KeyValueStore } from './store.js';
import { PerUserLimit } from './streams.js';
import type { TokenCachePartitions } from './token-cache.js';

export interface AppDeps {
  logger: Logger;
  metrics: Metrics;
  brokerMetrics?: BrokerMetrics;
  /** Sessions and login state (memory or Redis). */
  store: KeyValueStore;
  /** Seals what the broker keeps at rest and the sign-in cookies (CACHE_ENCRYPTION_KEY). */
  box: CryptoBox;
  partitions: TokenCachePartitions;
  entra: EntraClient;
  kube: KubeClient;
  rateLimiter: RateLimiterAbstract;
  /** Directory of the web page (index.html, static/). */
  publicDir?: string;
  /** PUBLIC_CA_FILE's PEM, written into downloaded kubeconfigs. */
  publicCaPem?: string;
}

const PUBLIC_DIR = join(import.meta.dirname, '..', 'public');

/** CSP without inline script or style; no framing; no referrer (the callback URL carries a code). */
const securityHeaders: RequestHandler = (_req, res, next) => {
  res.set(SECURITY_HEADERS);
  next();
};

export function createApp(config: BrokerConfig, deps: AppDeps): express.Express {
  const { logger, metrics } = deps;
  const brokerMetrics = deps.brokerMetrics ?? createBrokerMetrics(metrics.registry);
  const sessions = new SessionStore(deps.store, deps.box, config.session.ttlMs);
  const signer = new CookieSigner(config.session.secrets);
  const cookie = { name: config.session.cookieName, secure: config.session.cookieSecure };
  const logins = new LoginStates({ box: deps.box, store: deps.store, cookie });
  const audit = new AuditLog(logger);
  const streams = new PerUserLimit(config.kube.maxStreamsPerUser);
  const calls = new PerUserLimit(config.kube.maxCallsPerUser);
  const perUser = rateLimitByUser(deps.rateLimiter, () => brokerMetrics.rateLimited.inc());
  const csrf = csrfGuard(config.publicUrl);
  const credentials = new CliCredentials(deps.store, deps.box, sessions, config.cli);

  const ready = async () => {
    const store = await deps.store.ping();
    if (!deps.entra.ready) await deps.entra.loadMetadata().catch(() => undefined);
    return {
      ready: store && deps.entra.ready,
      details: {
        store: { kind: deps.store.kind, ok: store },
        identityProvider: { metadata: deps.entra.ready },
      },
    };
  };

  const pipeline: Array<RequestHandler | Router | [string, ...Array<RequestHandler | Router>]> = [
    ...baseMiddleware({ logger, metrics }),
    securityHeaders,
    healthRoutes({ ready }),
    metricsRoute(metrics.registry),
    express.static(deps.publicDir ?? PUBLIC_DIR, { index: 'index.html', maxAge: 0, redirect: false }),
    loadSession({ signer, cookie, sessions }),
    authRoutes({
      entra: deps.entra,
      sessions,
      logins,
      partitions: deps.partitions,
      credentials,
      signer,
      cookie,
      publicUrl: config.publicUrl,
      logger,
      metrics: brokerMetrics,
    }),
    [
      '/api',
      routeLabel('/api'),
      refuseOtherSites,
      sessionCaller(deps.entra),
      csrf,
      perUser,
      meRoutes({ client: deps.kube, audit, namespaces: config.ui.namespaces, metrics: brokerMetrics }),
      credentialRoutes({
        credentials,
        publicUrl: config.publicUrl,
        publicCaPem: deps.publicCaPem,
        logger,
        metrics: brokerMetrics,
      }),
    ],
    [
      PATHS.kube,
      routeLabel(PATHS.kube),
      // kubectl: a credential as bearer. Browser-only rules (cookie, CSRF, other sites) apply to the rest.
      credentialCaller({
        credentials,
        entra: deps.entra,
        publicUrl: config.publicUrl,
        metrics: brokerMetrics,
      }),
      forBrowsers(refuseOtherSites),
      forBrowsers(sessionCaller(deps.entra)),
      forBrowsers(csrf),
      perUser,
      kubeProxy({
        client: deps.kube,
        audit,
        streams,
        calls,
        allowedSubresources: config.kube.allowedSubresources,
        metrics: brokerMetrics,
      }),
    ],
    notFoundHandler(),
  ];

  const app = express();
  app.disable('x-powered-by');
  app.set('query parser', 'simple');
  // Whatever answers before a body was read to its end (a refusal after a parser started, the API
  // server): the rest is dropped once the answer is out, so the connection's next request is served.
  app.use((req, res, next) => {
    dropBodyAfterAnswer(req, res);
    next();
  });
  for (const step of pipeline) {
    if (Array.isArray(step)) {
      const [path, ...handlers] = step;
      app.use(path, ...handlers);
    } else {
      app.use(step);
    }
  }
  app.use(errorHandler(logger));
  return app;
}
