// The prom-sidecar HTTP surface: the Prometheus read API forwarded with a fresh Entra bearer,
// the seed's /health, aad-auth-proxy's /ready, probes and metrics; any other path is a 404 with a
// JSON reason.
import type { RequestListener } from 'node:http';
import type { Forwarder, TokenStatusLike } from '@auth-sidecars/proxy-kit';
import { proxyListener, tokenReadiness } from '@auth-sidecars/proxy-kit';
import {
  AppError,
  baseMiddleware,
  errorHandler,
  healthRoutes,
  metricsRoute,
  NotFoundError,
  pathOf,
  READYZ_PATH,
  routeLabel,
  type Logger,
  type Metrics,
} from '@auth-sidecars/service-kit';
import express, { Router, type ErrorRequestHandler, type RequestHandler } from 'express';
import { createAllowList, type AllowList } from './allow-list.js';
import type { PromSidecarConfig } from './config.js';
import { AAD_READY_PATH, HEALTH_PATH, PROBE_PATHS } from './constants.js';
import { seedHealth } from './health.js';

export interface PromSidecarDeps {
  /** getToken: a failing readiness probe counts as demand (see proxy-kit's tokenReadiness). */
  tokens: { status(): TokenStatusLike; getToken(): Promise<unknown> };
  forwarder: Forwarder;
  logger: Logger;
  metrics: Metrics;
}

function healthRoute(tokens: PromSidecarDeps['tokens']): Router {
  const router = Router();
  router.get(HEALTH_PATH, (_req, res) => {
    const body = seedHealth(tokens.status());
    // A probe counts as demand, as /readyz does (proxy-kit's tokenReadiness).
    if (!body.token_valid) tokens.getToken().catch(() => undefined);
    res
      .status(body.token_valid ? 200 : 503)
      .set('cache-control', 'no-store')
      .json(body);
  });
  return router;
}

/** aad-auth-proxy's readiness probe is answered by /readyz (same status, same document). */
function aadReadyAlias(): RequestHandler {
  return (req, _res, next) => {
    if (req.path === AAD_READY_PATH) req.url = READYZ_PATH;
    next();
  };
}

/** Forwards what the allow-list allows (bodies untouched); 404 or 405 for everything else. */
function allowedApi(allowList: AllowList, forwarder: Forwarder): RequestHandler {
  return (req, res, next) => {
    const route = allowList.route(req.path);
    if (route === undefined) {
      next(
        new NotFoundError(
          `${req.path} is not proxied; only the Prometheus read API is: ${allowList.description}`,
        ),
      );
      return;
    }
    if (!route.methods.includes(req.method)) {
      const allow = route.methods.join(', ');
      next(
        new AppError(405, 'method_not_allowed', `${req.method} is not allowed on ${req.path}; use ${allow}`, {
          headers: { allow },
        }),
      );
      return;
    }
    forwarder.handle(req, res, next);
  };
}

export function createApp(config: Readonly<PromSidecarConfig>, deps: PromSidecarDeps): express.Express {
  const { tokens, forwarder, logger, metrics } = deps;
  const middleware: Array<RequestHandler | Router | ErrorRequestHandler> = [
    ...baseMiddleware({ logger, metrics, quietPaths: PROBE_PATHS }),
    healthRoute(tokens),
    aadReadyAlias(),
    healthRoutes({
      ready: tokenReadiness(
        () => tokens.status(),
        () => tokens.getToken(),
      ),
    }),
    metricsRoute(metrics.registry),
    routeLabel('prometheus'),
    allowedApi(createAllowList(config), forwarder),
    errorHandler(logger),
  ];
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  for (const m of middleware) app.use(m);
  return app;
}

/**
 * The server's request listener: allowed requests take the fast path (service-kit's request id,
 * log and metrics, then the forwarder, without express); everything else (probes, /metrics, the
 * 404 and 405 answers) goes to createApp.
 */
export function createListener(config: Readonly<PromSidecarConfig>, deps: PromSidecarDeps): RequestListener {
  const allowList = createAllowList(config);
  return proxyListener({
    app: createApp(config, deps),
    proxied: (req) => allowList.forwards(req.method ?? '', pathOf(req.url)),
    route: 'prometheus',
    forwarder: deps.forwarder,
    logger: deps.logger,
    metrics: deps.metrics,
    quietPaths: PROBE_PATHS,
  });
}
