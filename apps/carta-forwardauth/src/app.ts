// carta-forwardauth's two listeners. The decision listener answers every method and path with a
// ForwardAuth decision from memory (service-kit's fast path: request id and HTTP metrics, no
// express, no request line). The probe app serves /livez, /readyz and /metrics on its own port, so
// a proxy asking about an original request for /livez can never get the probe's 200 (an allow).
import {
  baseFastPathListener,
  baseMiddleware,
  errorHandler,
  ForbiddenError,
  healthRoutes,
  metricsRoute,
  notFoundHandler,
  pathOf,
  sendJsonText,
  ServiceUnavailableError,
  toErrorResponse,
  type FastRoute,
  type Logger,
  type Metrics,
  type PlainHandler,
} from '@auth-sidecars/service-kit';
import express from 'express';
import type { IncomingMessage, RequestListener } from 'node:http';
import type { Config } from './config.js';
import { DECISION_ROUTE, HEADERS, PATHS } from './constants.js';
import { decide, type Decision, type DecisionInput, type SessionIndexReader } from './decision.js';
import type { DecisionMetrics } from './metrics.js';
import { pathRules } from './session-path.js';
import type { SourceStatus } from './session-watcher.js';

export interface WatcherView {
  isSynced(): boolean;
  status(): { synced: boolean; sources: SourceStatus[] };
}

export interface AppDeps {
  index: SessionIndexReader;
  watcher: WatcherView;
  logger: Logger;
  metrics: Metrics;
  decisionMetrics: DecisionMetrics;
}

export type AppConfig = Pick<
  Config,
  | 'responseHeader'
  | 'maxUriLength'
  | 'authPathPrefix'
  | 'sessionPathPrefixes'
  | 'refererFallback'
  | 'refererAssetPrefixes'
  | 'probePort'
>;

const PROBE_PATHS: ReadonlySet<string> = new Set(Object.values(PATHS));

function body(error: Error): string {
  return JSON.stringify(toErrorResponse(error).body);
}

/** Only these short facts about a request reach the denial log: never a full URI or Referer. */
function clip(value: string | undefined, max = 128): string | undefined {
  return value === undefined ? undefined : value.length > max ? `${value.slice(0, max)}...` : value;
}

/**
 * The hot path. Answers straight from the in-memory index; a denial writes its own decision line
 * (the route has no request line), an allow only at debug, so it stays far below a millisecond.
 */
export function decisionHandler(config: AppConfig, deps: AppDeps): PlainHandler {
  const log = deps.logger.child({ component: 'decision' });
  const forbidden = body(new ForbiddenError('access denied'));
  const unavailable = body(new ServiceUnavailableError('session index not available', 'index_unavailable'));
  const options = {
    rules: pathRules(config.maxUriLength, config.sessionPathPrefixes),
    authPathPrefix: config.authPathPrefix,
    refererAssetPrefixes: config.refererFallback ? config.refererAssetPrefixes : undefined,
  };
  const header = config.responseHeader;
  const counters = deps.decisionMetrics.decisions;
  const allowed = counters.labels('allow', '');

  return (req, res) => {
    const distinct = req.headersDistinct;
    const input: DecisionInput = {
      requestTarget: req.url ?? '/',
      forwardedUri: distinct[HEADERS.forwardedUri],
      originalUri: distinct[HEADERS.originalUri],
      referer: distinct[HEADERS.referer],
    };
    const decision = decide(input, deps.index, options);
    if (decision.result === 'allow') {
      allowed.inc();
      if (log.isDebugEnabled())
        log.debug('access allowed', {
          requestId: (req as { id?: string }).id,
          sessionId: decision.sessionId,
          userId: decision.userId,
          source: decision.source,
        });
      res.writeHead(200, { [header]: decision.userId, 'cache-control': 'no-store', 'content-length': '0' });
      res.end();
      return;
    }
    logDecision(log, decision, req);
    if (decision.result === 'unavailable') {
      counters.labels('unavailable', 'index_unavailable').inc();
      sendJsonText(res, 503, unavailable, { 'retry-after': '1' });
    } else {
      counters.labels('deny', decision.reason).inc();
      sendJsonText(res, 403, forbidden);
    }
  };
}

function logDecision(log: Logger, d: Exclude<Decision, { result: 'allow' }>, req: IncomingMessage): void {
  const first = (name: string) => {
    const v = req.headers[name];
    return clip(Array.isArray(v) ? v[0] : v);
  };
  const fields = {
    requestId: (req as { id?: string }).id,
    result: d.result,
    reason: d.result === 'deny' ? d.reason : 'index_unavailable',
    sessionId: d.sessionId,
    source: d.source,
    method: first(HEADERS.forwardedMethod) ?? req.method,
    host: first(HEADERS.forwardedHost),
    client: clip(first(HEADERS.forwardedFor)?.split(',')[0]?.trim(), 64),
  };
  if (d.result === 'unavailable') log.warn('decision unavailable', fields);
  else log.info('access denied', fields);
}

/** /livez, /readyz, /metrics and the 404 of anything else: the probe port's app. */
export function createProbeApp(deps: AppDeps): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  const middleware: Array<express.RequestHandler | express.Router> = [
    ...baseMiddleware({ logger: deps.logger, metrics: deps.metrics }),
    healthRoutes({
      ready: () => {
        const status = deps.watcher.status();
        return { ready: status.synced, details: status };
      },
    }),
    metricsRoute(deps.metrics.registry, PATHS.metrics),
    notFoundHandler(),
  ];
  app.use(middleware);
  app.use(errorHandler(deps.logger));
  return app;
}

/**
 * The decision port. With a probe port, every method and path is a decision. With PROBE_PORT=off
 * (which needs AUTH_PATH_PREFIX, see config.ts), GET/HEAD of the probe paths go to the probe app.
 */
export function createListener(config: AppConfig, deps: AppDeps): RequestListener {
  const route: FastRoute = {
    route: DECISION_ROUTE,
    handle: decisionHandler(config, deps),
    requestLog: false,
  };
  const probesHere = config.probePort === 'off';
  return baseFastPathListener({
    app: probesHere ? createProbeApp(deps) : (_req, res) => res.destroy(),
    match: probesHere
      ? (req) =>
          (req.method === 'GET' || req.method === 'HEAD') && PROBE_PATHS.has(pathOf(req.url))
            ? undefined
            : route
      : () => route,
    logger: deps.logger,
    metrics: deps.metrics,
    quietPaths: [],
  });
}
