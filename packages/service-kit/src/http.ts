// Express plumbing every app mounts the same way: request id + request log + HTTP metrics first
// (baseMiddleware), then the app's routes, then notFoundHandler and errorHandler, which turn thrown
// errors into `{ error: { code, message } }` without ever sending a stack or a secret.
import { randomUUID } from 'node:crypto';
import type { ErrorRequestHandler, Request, RequestHandler, Response } from 'express';
import { AppError, NotFoundError } from './errors.js';
import { lineLogger, type Logger } from './logger.js';
import type { Metrics } from './metrics.js';
import { provideRequestLogger, requestLoggerIfCreated, useLazyRequestLoggers } from './request-logger.js';

export const REQUEST_ID_HEADER = 'x-request-id';

declare module 'express-serve-static-core' {
  interface Request {
    /** Request id (from a sane incoming `x-request-id`, else a random UUID); set by baseMiddleware. */
    id?: string;
    /** Logger child carrying `requestId`; provided by baseMiddleware, created on first read. */
    log?: Logger;
  }
}

const SANE_REQUEST_ID = /^[A-Za-z0-9._~:+=/@-]{1,128}$/;
const KNOWN_METHODS = new Set([
  'GET',
  'HEAD',
  'POST',
  'PUT',
  'PATCH',
  'DELETE',
  'OPTIONS',
  'CONNECT',
  'TRACE',
]);

export interface BaseMiddlewareOptions {
  /** The root logger (request lines without a child logger go out through its lineLogger). */
  logger: Logger;
  metrics?: Metrics;
  /** Paths logged at `debug` instead of `info` (probes and scrapes would drown the log). */
  quietPaths?: string[];
}

/** `[requestId, requestLog]`: mount first, before any route or proxy. */
export function baseMiddleware(options: BaseMiddlewareOptions): RequestHandler[] {
  const quiet = new Set(options.quietPaths ?? ['/livez', '/readyz', '/metrics']);
  // A request line per request: winston's own path (entry copies, stream hops) cost more than the line.
  const lines = lineLogger(options.logger, {});
  useLazyRequestLoggers();
  const requestId: RequestHandler = (req, res, next) => {
    const incoming = req.headers[REQUEST_ID_HEADER];
    const id = typeof incoming === 'string' && SANE_REQUEST_ID.test(incoming) ? incoming : randomUUID();
    req.id = id;
    provideRequestLogger(req, options.logger, id);
    res.setHeader(REQUEST_ID_HEADER, id);
    next();
  };

  const requestLog: RequestHandler = (req, res, next) => {
    const started = process.hrtime.bigint();
    const method = req.method;
    const path = pathOf(req.originalUrl);
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      const completed = res.writableFinished;
      const status = completed || res.headersSent ? res.statusCode : 499;
      options.metrics?.httpRequests.observe(
        {
          method: KNOWN_METHODS.has(method) ? method : 'OTHER',
          route: routeOf(req, res),
          status: String(status),
        },
        seconds,
      );
      // A route that logs for itself (fast path `requestLog: false`) keeps its metrics only.
      if ((res.locals as { requestLog?: unknown } | undefined)?.requestLog === false) return;
      const level = quiet.has(path) && status < 400 ? 'debug' : 'info';
      // A hidden line (probes, hot paths at debug) is not even built.
      if (!lines.isLevelEnabled(level)) return;
      // Through req.log if the app used or replaced it, else the same line from the root logger
      // without creating a child for it (requestId has a fixed place in the line either way).
      const own = requestLoggerIfCreated(req);
      const fields: Record<string, unknown> = {
        method,
        path,
        status,
        durationMs: Math.round(seconds * 1000 * 10) / 10,
      };
      if (!completed) fields.aborted = true;
      // (An undefined requestId would hide the child's: only set when there is no child.)
      if (own) own.log(level, 'request', fields);
      else lines.log(level, 'request', req.id === undefined ? fields : { requestId: req.id, ...fields });
    };
    // A response emits 'close' once it finished or its connection went away ('finish' alone would
    // miss aborts). `on`, not `once`: the `done` flag already makes it run once, without a wrapper.
    res.on('close', finish);
    next();
  };

  return [requestId, requestLog];
}

/**
 * Sets the `route` metrics label for whatever answers below it (proxies have no express route).
 * Without it the label is the matched route template, else the mount path, else `unmatched`.
 */
export function routeLabel(route: string): RequestHandler {
  return (_req, res, next) => {
    res.locals.route = route;
    next();
  };
}

function routeOf(req: Request, res: Response): string {
  if (typeof res.locals.route === 'string') return res.locals.route;
  const routePath = (req.route as { path?: unknown } | undefined)?.path;
  if (typeof routePath === 'string') return `${req.baseUrl}${routePath}`;
  return req.baseUrl || 'unmatched';
}

/** The path only: query strings can carry codes, assertions and tokens. */
export function pathOf(url: string | undefined): string {
  if (!url) return '/';
  const q = url.search(/[?#]/);
  return q === -1 ? url : url.slice(0, q);
}

/** Final route: anything unmatched becomes a 404 JSON error. */
export function notFoundHandler(): RequestHandler {
  return (req, _res, next) => {
    next(new NotFoundError(`no route for ${req.method} ${pathOf(req.originalUrl)}`));
  };
}

interface HttpLikeError {
  status?: unknown;
  statusCode?: unknown;
  type?: unknown;
  expose?: unknown;
}

// body-parser / raw-body error types -> status, code, a message that never echoes the body.
const BODY_ERRORS: Record<string, [number, string, string]> = {
  'entity.parse.failed': [400, 'invalid_body', 'request body could not be parsed'],
  'entity.too.large': [413, 'payload_too_large', 'request body too large'],
  'entity.verify.failed': [403, 'invalid_body', 'request body verification failed'],
  'encoding.unsupported': [415, 'unsupported_encoding', 'unsupported content encoding'],
  'charset.unsupported': [415, 'unsupported_charset', 'unsupported charset'],
  'request.aborted': [400, 'request_aborted', 'request aborted'],
  'request.size.invalid': [400, 'invalid_body', 'request size did not match content-length'],
  'parameters.too.many': [413, 'payload_too_large', 'too many parameters'],
};

const CLIENT_ERROR_CODES: Record<number, string> = {
  400: 'bad_request',
  401: 'unauthorized',
  403: 'forbidden',
  404: 'not_found',
  405: 'method_not_allowed',
  406: 'not_acceptable',
  408: 'request_timeout',
  409: 'conflict',
  411: 'length_required',
  413: 'payload_too_large',
  414: 'uri_too_long',
  415: 'unsupported_media_type',
  416: 'range_not_satisfiable',
  429: 'rate_limited',
  431: 'headers_too_large',
};

export interface ErrorBody {
  error: { code: string; message: string };
}

/** Maps any thrown value to status, headers and the public JSON body. */
export function toErrorResponse(error: unknown): {
  status: number;
  headers: Record<string, string>;
  body: ErrorBody;
} {
  if (error instanceof AppError) {
    const message = error.expose ? error.message : 'internal error';
    return { status: error.status, headers: error.headers, body: { error: { code: error.code, message } } };
  }
  const e = (error ?? {}) as HttpLikeError;
  if (typeof e.type === 'string' && BODY_ERRORS[e.type]) {
    const [status, code, message] = BODY_ERRORS[e.type]!;
    return { status, headers: {}, body: { error: { code, message } } };
  }
  const status =
    typeof e.status === 'number' ? e.status : typeof e.statusCode === 'number' ? e.statusCode : 500;
  if (status >= 400 && status < 500) {
    // http-errors style client errors from other middleware: keep the status, use a fixed message.
    const code = CLIENT_ERROR_CODES[status] ?? 'client_error';
    return { status, headers: {}, body: { error: { code, message: code.replace(/_/g, ' ') } } };
  }
  return { status: 500, headers: {}, body: { error: { code: 'internal_error', message: 'internal error' } } };
}

/** Last middleware: typed errors to status + JSON; unknown errors to a 500 logged with stack. */
export function errorHandler(logger: Logger): ErrorRequestHandler {
  return (error: unknown, req, res, _next) => {
    const log = req.log ?? logger;
    const { status, headers, body } = toErrorResponse(error);
    const fields = { method: req.method, path: pathOf(req.originalUrl), status, errorCode: body.error.code };
    // Server errors get the whole error (stack included, redacted by the logger); client errors a reason.
    if (status >= 500) log.error('request failed', { ...fields, err: error });
    // Client errors are routine for auth gates (401 on every anonymous request): info, not warn.
    else
      log.info('request rejected', {
        ...fields,
        reason: error instanceof Error ? error.message : String(error),
      });
    if (res.headersSent) {
      // Mid-stream failure: the status line is gone, so the only honest signal is a cut connection.
      res.destroy();
      return;
    }
    res.status(status).set(headers).set('cache-control', 'no-store').json(body);
  };
}
