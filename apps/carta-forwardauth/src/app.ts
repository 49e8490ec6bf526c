// Builds the carta-forwardauth Express app: the ForwardAuth catch-all (every method and path except
// the probe and metrics paths) answered from memory, then the service-kit probe/metrics routes.
import {
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
  type Logger,
  type Metrics,
} from '@auth-sidecars/service-kit';
import express from 'express';
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import type { Config } from './config.js';
import { HEADERS, PATHS } from './constants.js';
import { decide, type Decision, type DecisionInput, type SessionIndexReader } from './decision.js';
import type { DecisionMetrics } from './metrics.js';
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

type AppConfig = Pick<Config, 'RESPONSE_HEADER' | 'MAX_URI_LENGTH' | 'AUTH_PATH_PREFIX'>;

const PROBE_PATHS: ReadonlySet<string> = new Set(Object.values(PATHS));

function body(error: Error): string {
  return JSON.stringify(toErrorResponse(error).body);
}

/** Only these shorts facts about a request reach the denial log: never a full URI or Referer. */
function clip(value: string | undefined, max = 128): string | undefined {
  return value === undefined ? undefined : value.length > max ? `${value.slice(0, max)}...` : value;
}

/**
 * The hot path. Answers straight from the in-memory index without the per-request log line (a denial
 * gets its own decision line instead), so it stays far below a millisecond.
 */
export function forwardAuthHandler(
  config: AppConfig,
  deps: AppDeps,
): (req: IncomingMessage, res: ServerResponse, next: () => void) => void {
  const log = deps.logger.child({ component: 'decision' });
  const forbidden = body(new ForbiddenError('access denied'));
  const unavailable = body(new ServiceUnavailableError('session index not available', 'index_unavailable'));
  const options = { maxUriLength: config.MAX_URI_LENGTH, authPathPrefix: config.AUTH_PATH_PREFIX };
  const header = config.RESPONSE_HEADER;
  const counters = deps.decisionMetrics.decisions;
  const allowed = counters.labels('allow', '');

  return (req, res, next) => {
    if ((req.method === 'GET' || req.method === 'HEAD') && PROBE_PATHS.has(pathOf(req.url))) return next();
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

export function createApp(config: AppConfig, deps: AppDeps): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  const middleware: express.RequestHandler[] = [
    // Catch-all first: every method and path that is not a probe is an auth decision.
    forwardAuthHandler(config, deps),
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
 * What the server runs: decisions are answered before Express is entered at all (the hot path
 * skips Express's per-request setup); probes and /metrics go through the Express app.
 */
export function createRequestListener(config: AppConfig, deps: AppDeps): RequestListener {
  const app = createApp(config, deps);
  const forwardAuth = forwardAuthHandler(config, deps);
  return (req, res) => forwardAuth(req, res, () => void app(req, res));
}
