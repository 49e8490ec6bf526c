// Proxied requests skip express: service-kit's own request-id, request-log and metrics middleware
// run as a plain chain in front of the forwarder (same log line, same metrics, same error bodies),
// while everything else (probes, /metrics, 404s) goes to the app's express app. Express' per-request
// work (prototype swaps, router walk) roughly doubled the CPU of a forwarded request.
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import {
  AppError,
  baseMiddleware,
  toErrorResponse,
  type Logger,
  type Metrics,
} from '@auth-sidecars/service-kit';
import type { Forwarder } from './forwarder.js';

/** An express-style middleware that only uses node:http's request and response (as baseMiddleware's do). */
export type PlainMiddleware = (
  req: IncomingMessage,
  res: ServerResponse,
  next: (err?: unknown) => void,
) => void;

export interface FastPathOptions {
  /** Handles every request that is not proxied (the express app). */
  app: RequestListener;
  /** True for requests that go straight to the forwarder. */
  proxied(req: IncomingMessage): boolean;
  /** Run in order before the forwarder, e.g. service-kit's `baseMiddleware(...)`. */
  middleware: readonly PlainMiddleware[];
  /** `route` label of the HTTP metrics for proxied requests. */
  route: string;
  forwarder: Forwarder;
  /** Unexpected (non-AppError) failures are logged here with their stack, as service-kit's errorHandler does. */
  logger?: { error(message: string, meta?: Record<string, unknown>): unknown };
}

export function fastPathListener(options: FastPathOptions): RequestListener {
  const { app, proxied, middleware, route, forwarder, logger } = options;
  return (req, res) => {
    if (!proxied(req)) {
      void app(req, res);
      return;
    }
    // What express would have set and service-kit's middleware reads.
    (req as IncomingMessage & { originalUrl?: string }).originalUrl = req.url;
    (res as ServerResponse & { locals?: Record<string, unknown> }).locals = { route };
    const fail = (err: unknown) => {
      if (res.headersSent) {
        res.destroy();
        return;
      }
      const { status, headers, body } = toErrorResponse(err);
      if (!(err instanceof AppError)) logger?.error('unhandled error', { err, path: req.url?.split('?')[0] });
      const text = JSON.stringify(body);
      res.writeHead(status, {
        ...headers,
        'content-type': 'application/json; charset=utf-8',
        'content-length': Buffer.byteLength(text),
      });
      res.end(text);
    };
    let index = 0;
    const next = (err?: unknown): void => {
      if (err !== undefined) {
        fail(err);
        return;
      }
      const m = middleware[index];
      index += 1;
      if (m !== undefined) m(req, res, next);
      else forwarder.handle(req, res, fail);
    };
    next();
  };
}

export interface ProxyListenerOptions {
  app: RequestListener;
  proxied(req: IncomingMessage): boolean;
  route: string;
  forwarder: Forwarder;
  logger: Logger;
  metrics: Metrics;
  /** Paths whose request lines are logged at debug (probes, /metrics). */
  quietPaths: readonly string[];
}

/** fastPathListener with service-kit's baseMiddleware as the chain: what both proxies serve. */
export function proxyListener(options: ProxyListenerOptions): RequestListener {
  const { logger, metrics, quietPaths, ...rest } = options;
  const middleware = baseMiddleware({
    logger,
    metrics,
    quietPaths: [...quietPaths],
  }) as unknown as PlainMiddleware[];
  return fastPathListener({ ...rest, middleware, logger });
}
