// The prom-sidecar HTTP surface: the Prometheus read API forwarded with a fresh Entra bearer,
// the seed's /health, probes and metrics; any other path is a 404 with a JSON reason.
import type { IncomingMessage, RequestListener } from 'node:http';
import type { Forwarder, TokenStatusLike } from '@auth-sidecars/proxy-kit';
import { proxyListener, tokenReadiness } from '@auth-sidecars/proxy-kit';
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
    healthRoutes({
      ready: tokenReadiness(
        () => tokens.status(),
        () => tokens.getToken(),
      ),
    }),
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

function isReadApi(req: IncomingMessage): boolean {
  if (!READ_API_METHODS.has(req.method ?? '')) return false;
  const url = req.url ?? '/';
  const q = url.indexOf('?');
  const path = q === -1 ? url : url.slice(0, q);
  return READ_API_PATHS.some((p) => p.test(path));
}

/**
 * The server's request listener: read API requests take the fast path (service-kit's request id,
 * log and metrics, then the forwarder, without express); everything else (probes, /metrics, the
 * 404 and 405 answers) goes to createApp.
 */
export function createListener(config: Readonly<PromSidecarConfig>, deps: PromSidecarDeps): RequestListener {
  return proxyListener({
    app: createApp(config, deps),
    proxied: isReadApi,
    route: 'prometheus',
    forwarder: deps.forwarder,
    logger: deps.logger,
    metrics: deps.metrics,
    quietPaths: PROBE_PATHS,
  });
}
