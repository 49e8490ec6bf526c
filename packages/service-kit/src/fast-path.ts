// Hot routes without express: service-kit's own request-id, request-log and metrics middleware run
// as a plain chain in front of a plain node:http handler (same log line, same metrics, JSON errors),
// while everything else (probes, /metrics, 404s) goes to the app's express app. Express' per-request
// work (prototype swaps, router walk, query parsing, res.json) cost as much as a whole cached answer.
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import { AppError } from './errors.js';
import { baseMiddleware, pathOf, toErrorResponse } from './http.js';
import type { Logger } from './logger.js';
import type { Metrics } from './metrics.js';

/** An express-style middleware that only uses node:http's request and response (as baseMiddleware's do). */
export type PlainMiddleware = (
  req: IncomingMessage,
  res: ServerResponse,
  next: (err?: unknown) => void,
) => void;

/** Answers a request, or hands the failure to `fail` (which writes the route's error response). */
export type PlainHandler = (req: IncomingMessage, res: ServerResponse, fail: (err: unknown) => void) => void;

export interface ErrorResponse {
  status: number;
  headers: Record<string, string>;
  body: unknown;
}

export interface FastRoute {
  /** `route` label of the HTTP metrics. */
  route: string;
  handle: PlainHandler;
  /** The route's error shape (default: service-kit's `{ error: { code, message } }`). */
  errorResponse?: (err: unknown, req: IncomingMessage) => ErrorResponse;
  /**
   * false: no request line for this route, whatever its status (a route that writes its own line,
   * such as a decision log, would otherwise log twice). Request id and metrics stay.
   */
  requestLog?: boolean;
}

export interface FastPathOptions {
  /** Handles every request `match` does not claim (the express app). */
  app: RequestListener;
  /** The fast route for a request, or undefined to send it to `app`. */
  match(req: IncomingMessage): FastRoute | undefined;
  /** Run in order before the route's handler, e.g. service-kit's `baseMiddleware(...)`. */
  middleware: readonly PlainMiddleware[];
  /** Unexpected (non-AppError) failures are logged here with their stack, as errorHandler does. */
  logger?: { error(message: string, meta?: Record<string, unknown>): unknown };
}

export function fastPathListener(options: FastPathOptions): RequestListener {
  const { app, match, middleware, logger } = options;
  return (req, res) => {
    const route = match(req);
    if (route === undefined) {
      void app(req, res);
      return;
    }
    // What express would have set and service-kit's middleware reads.
    (req as IncomingMessage & { originalUrl?: string }).originalUrl = req.url;
    (res as ServerResponse & { locals?: Record<string, unknown> }).locals =
      route.requestLog === false ? { route: route.route, requestLog: false } : { route: route.route };
    const fail = (err: unknown) => {
      if (res.headersSent) {
        // Mid-response failure: the status line is gone, so the only honest signal is a cut connection.
        res.destroy();
        return;
      }
      if (!(err instanceof AppError)) logger?.error('request failed', { err, path: pathOf(req.url) });
      const { status, headers, body } = (route.errorResponse ?? toErrorResponse)(err, req);
      sendJson(res, status, body, headers);
    };
    let index = 0;
    const next = (err?: unknown): void => {
      if (err !== undefined) {
        fail(err);
        return;
      }
      const m = middleware[index];
      index += 1;
      // A synchronous throw is a failure of this request, never of the server.
      try {
        if (m !== undefined) m(req, res, next);
        else route.handle(req, res, fail);
      } catch (thrown) {
        fail(thrown);
      }
    };
    next();
  };
}

export interface BaseFastPathOptions extends Omit<FastPathOptions, 'middleware' | 'logger'> {
  logger: Logger;
  metrics: Metrics;
  /** Paths whose successful requests are logged at debug (probes, scrapes, hot token paths). */
  quietPaths: readonly string[];
}

/** fastPathListener with service-kit's baseMiddleware as the chain: what the apps serve. */
export function baseFastPathListener(options: BaseFastPathOptions): RequestListener {
  const { logger, metrics, quietPaths, ...rest } = options;
  const middleware = baseMiddleware({
    logger,
    metrics,
    quietPaths: [...quietPaths],
  }) as unknown as PlainMiddleware[];
  return fastPathListener({ ...rest, middleware, logger });
}

/** A JSON answer that is never cached (every fast-path answer is per caller). */
export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  sendJsonText(res, status, JSON.stringify(body), headers);
}

/** sendJson for a body serialized already. */
export function sendJsonText(
  res: ServerResponse,
  status: number,
  text: string,
  headers: Record<string, string> = {},
): void {
  res.writeHead(status, {
    ...headers,
    'cache-control': 'no-store',
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}
