// Builds the token-server Express app from config and injected dependencies (no I/O, no env).
// Three doors to the same Issuer: the seed's /token, App Service managed identity (/msi/token and
// /), and optionally IMDS; every door authenticates a client, applies its allow-list and audits.
import express, { type Express, type Handler, type ErrorRequestHandler, type Router } from 'express';
import {
  baseMiddleware,
  errorHandler,
  healthRoutes,
  metricsRoute,
  notFoundHandler,
  type Logger,
  type Metrics,
} from '@auth-sidecars/service-kit';
import type { TokenServerConfig } from './config.js';
import { ENV, PATHS } from './constants.js';
import type { ServerIdentity } from './identity.js';
import { Issuer } from './issuer.js';
import { createTokenServerMetrics } from './metrics.js';
import type { Policy } from './policy.js';
import { appServiceRoutes } from './protocols/app-service.js';
import { imdsRoutes } from './protocols/imds.js';
import { seedRoutes } from './protocols/seed.js';
import type { IssuedToken } from './tokens.js';

export interface TokenSource {
  get(scope: string): Promise<IssuedToken>;
  ready(): boolean;
  status(): Record<string, unknown>;
  readonly size: number;
}

export interface AppDeps {
  logger: Logger;
  metrics: Metrics;
  /** Current policy (a PolicyStore reloads it behind this function). */
  policy: () => Policy;
  tokens: TokenSource;
}

export function serverIdentity(config: TokenServerConfig): ServerIdentity {
  return {
    clientId: config[ENV.identityClientId] ?? config.AZURE_CLIENT_ID,
    objectId: config[ENV.identityObjectId],
    resourceId: config[ENV.identityResourceId],
  };
}

export function createApp(config: TokenServerConfig, deps: AppDeps): Express {
  const { logger, metrics, policy, tokens } = deps;
  const issuer = new Issuer({
    policy,
    tokens,
    metrics: createTokenServerMetrics(metrics.registry, () => tokens.size),
    audit: logger.child({ component: 'audit' }),
    identity: serverIdentity(config),
  });
  const maxQueryBytes = config[ENV.maxQueryBytes];
  const imdsClient = config[ENV.imdsClient];

  const middleware: Array<Handler | Handler[] | Router | ErrorRequestHandler> = [
    // Successful token requests are recorded by their audit line; a second (request) line for each
    // would double the logging cost of the hot path. Failures are still request-logged.
    ...baseMiddleware({
      logger,
      metrics,
      quietPaths: [
        '/livez',
        '/readyz',
        '/metrics',
        PATHS.health,
        PATHS.token,
        PATHS.imds,
        ...PATHS.appService,
      ],
    }),
    // The hot path first: every router a request passes costs a few microseconds.
    seedRoutes(issuer, { maxQueryBytes }),
    ...(imdsClient ? [imdsRoutes(issuer, { maxQueryBytes, client: () => policy().client(imdsClient) })] : []),
    healthRoutes({ ready: () => ({ ready: tokens.ready(), details: { scopes: tokens.status() } }) }),
    metricsRoute(metrics.registry),
    express.Router().get(PATHS.health, (_req, res) => {
      res.set('cache-control', 'no-store').json({ status: 'ok' });
    }),
    // Last of the routes: the App Service protocol also answers on `/`.
    appServiceRoutes(issuer, { maxQueryBytes, logger }),
    notFoundHandler(),
    errorHandler(logger),
  ];

  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  for (const m of middleware) app.use(m as Handler);
  return app;
}
