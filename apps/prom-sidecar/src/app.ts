// The prom-sidecar HTTP surface: the Prometheus read API forwarded with a fresh Entra bearer,
// the seed's /health, probes and metrics; any other path is a 404 with a JSON reason.
import type { Forwarder, TokenStatusLike } from '@auth-sidecars/proxy-kit';
import { tokenReadiness } from '@auth-sidecars/proxy-kit';
import {
  AppError,
  baseMiddleware,
  errorHandler,
  healthRoutes,
  metricsRoute,
  NotFoundError,
  routeLabel,
  type Logger,
  type Metrics,
} from '@auth-sidecars/service-kit';
import express, { Router, type ErrorRequestHandler, type RequestHandler } from 'express';
import type { PromSidecarConfig } from './config.js';
import {
  HEALTH_PATH,
  PROBE_PATHS,
  READ_API_DESCRIPTION,
  READ_API_METHODS,
  READ_API_PATHS,
} from './constants.js';
import { seedHealth } from './health.js';

export interface PromSidecarDeps {
  tokens: { status(): TokenStatusLike };
  forwarder: Forwarder;
  logger: Logger;
  metrics: Metrics;
}

function healthRoute(tokens: PromSidecarDeps['tokens']): Router {
  const router = Router();
  router.get(HEALTH_PATH, (_req, res) => {
    const body = seedHealth(tokens.status());
    res
      .status(body.token_valid ? 200 : 503)
      .set('cache-control', 'no-store')
      .json(body);
  });
  return router;
}

/** Forwards the read API (GET and POST, bodies untouched); refuses everything else. */
function readApi(forwarder: Forwarder): RequestHandler {
  return (req, res, next) => {
    if (!READ_API_PATHS.some((p) => p.test(req.path))) {
      next(
        new NotFoundError(
          `${req.path} is not proxied; only the Prometheus read API is: ${READ_API_DESCRIPTION}`,
        ),
      );
      return;
    }
    if (!READ_API_METHODS.has(req.method)) {
      next(
        new AppError(
          405,
          'method_not_allowed',
          `${req.method} is not allowed on ${req.path}; use GET or POST`,
          { headers: { allow: 'GET, POST' } },
        ),
      );
      return;
    }
    forwarder.handle(req, res, next);
  };
}

export function createApp(_config: Readonly<PromSidecarConfig>, deps: PromSidecarDeps): express.Express {
  const { tokens, forwarder, logger, metrics } = deps;
  const middleware: Array<RequestHandler | Router | ErrorRequestHandler> = [
    ...baseMiddleware({ logger, metrics, quietPaths: PROBE_PATHS }),
    healthRoute(tokens),
    healthRoutes({ ready: tokenReadiness(() => tokens.status()) }),
    metricsRoute(metrics.registry),
    routeLabel('prometheus'),
    readApi(forwarder),
    errorHandler(logger),
  ];
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  for (const m of middleware) app.use(m);
  return app;
}
