// The openai-proxy HTTP surface: probes of its own, everything else forwarded unchanged to
// API_BASE_URL with the client's Authorization/api-key replaced by the sidecar's bearer, WebSocket
// upgrades (the Realtime API) included.
import type { IncomingMessage, RequestListener } from 'node:http';
import type { Forwarder, TokenStatusLike, UpgradeProxyOptions } from '@auth-sidecars/proxy-kit';
import { proxyListener, tokenReadiness } from '@auth-sidecars/proxy-kit';
import {
  baseMiddleware,
  errorHandler,
  healthRoutes,
  metricsRoute,
  pathOf,
  routeLabel,
  type Logger,
  type Metrics,
} from '@auth-sidecars/service-kit';
import express, { Router, type RequestHandler } from 'express';
import type { OpenAiProxyConfig } from './config.js';
import { HEALTH_PATH, KEY_SUBPROTOCOL_PREFIX, PROBE_PATHS } from './constants.js';

export interface OpenAiProxyDeps {
  /** getToken: a failing readiness probe counts as demand (see proxy-kit's tokenReadiness). */
  tokens: { status(): TokenStatusLike; getToken(): Promise<unknown> };
  forwarder: Forwarder;
  logger: Logger;
  metrics: Metrics;
}

/** The seed's probe: `{"status":"ok"}` while a valid token is held, 503 otherwise. */
function seedHealth(tokens: OpenAiProxyDeps['tokens']): Router {
  const router = Router();
  router.get(HEALTH_PATH, (_req, res) => {
    const valid = tokens.status().valid;
    // A probe counts as demand, as /readyz does (proxy-kit's tokenReadiness).
    if (!valid) tokens.getToken().catch(() => undefined);
    res
      .status(valid ? 200 : 503)
      .set('cache-control', 'no-store')
      .json({ status: valid ? 'ok' : 'unavailable' });
  });
  return router;
}

export function createApp(_config: Readonly<OpenAiProxyConfig>, deps: OpenAiProxyDeps): express.Express {
  const { tokens, forwarder, logger, metrics } = deps;
  const forward: RequestHandler = (req, res, next) => forwarder.handle(req, res, next);
  const middleware: Array<RequestHandler | Router | ReturnType<typeof errorHandler>> = [
    ...baseMiddleware({ logger, metrics, quietPaths: PROBE_PATHS }),
    seedHealth(tokens),
    healthRoutes({
      ready: tokenReadiness(
        () => tokens.status(),
        () => tokens.getToken(),
      ),
    }),
    metricsRoute(metrics.registry),
    routeLabel('proxy'),
    forward,
    errorHandler(logger),
  ];
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  for (const m of middleware) app.use(m);
  return app;
}

const PROBES: ReadonlySet<string> = new Set(PROBE_PATHS);
const forwarded = (req: IncomingMessage) => !PROBES.has(pathOf(req.url));

/**
 * WebSocket upgrades are forwarded on every forwarded path (`/openai/realtime`, `/openai/v1/realtime`,
 * ...), with the bearer injected. A key a browser client passes as a subprotocol is dropped as its
 * `api-key` header would be.
 */
export function upgradePolicy(
  _config: Readonly<OpenAiProxyConfig>,
): Pick<UpgradeProxyOptions, 'accepts' | 'dropSubprotocol'> {
  return {
    accepts: forwarded,
    dropSubprotocol: (protocol) => protocol.startsWith(KEY_SUBPROTOCOL_PREFIX),
  };
}

/**
 * The server's request listener: forwarded requests take the fast path (service-kit's request id,
 * log and metrics, then the forwarder, without express); the probes and /metrics go to createApp.
 */
export function createListener(config: Readonly<OpenAiProxyConfig>, deps: OpenAiProxyDeps): RequestListener {
  return proxyListener({
    app: createApp(config, deps),
    proxied: forwarded,
    route: 'proxy',
    forwarder: deps.forwarder,
    logger: deps.logger,
    metrics: deps.metrics,
    quietPaths: PROBE_PATHS,
  });
}
