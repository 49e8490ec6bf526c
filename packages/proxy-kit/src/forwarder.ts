// The forwarding engine: injects a fresh bearer from a token source and streams the request and the
// response through a keep-alive undici Pool without buffering or re-chunking. Upstream statuses pass
// through unchanged; the only retry is one replay after a forced token refresh on an upstream 401.
// Built on undici's dispatch API rather than node:http's client or http-proxy-middleware: it costs
// noticeably less CPU per request (see bench/engine.mjs and the app READMEs for the figures).
import type { IncomingMessage, ServerResponse } from 'node:http';
import { AppError, ServiceUnavailableError, UpstreamError, UpstreamTimeoutError } from '@auth-sidecars/service-kit';
import { Pool, type Dispatcher } from 'undici';
import {
  CONTENT_LENGTH_HEADER,
  DEFAULT_FREE_SOCKET_TIMEOUT_MS,
  DEFAULT_MAX_SOCKETS,
  DEFAULT_REPLAY_BODY_LIMIT_BYTES,
  DEFAULT_TIMEOUTS,
  TRANSFER_ENCODING_HEADER,
} from './constants.js';
import { downstreamHeaders, upstreamRequestHeaders } from './headers.js';

/** What the engine needs from auth-core's TokenProvider (a static source satisfies it too). */
export interface BearerSource {
  /** Memory read while a valid token is cached; rejects (503 AppError) when none can be had. */
  getToken(): Promise<{ token: string }>;
  /** Synchronous peek at a valid cached token: skips a promise hop on the hot path. */
  current?(): { token: string } | undefined;
  /** Forced refresh (single-flight in auth-core). */
  invalidate(): Promise<{ token: string }>;
}

export interface ForwarderTimeouts {
  /** TCP (and TLS) connect to the upstream; exceeded -> 504. */
  connectMs: number;
  /** From the request being fully sent to the complete response head; exceeded -> 504. */
  firstByteMs: number;
  /** Longest pause between two response body chunks; exceeded -> the stream is cut. */
  idleMs: number;
}

export interface ForwarderLogger {
  warn(message: string, meta?: Record<string, unknown>): unknown;
  debug(message: string, meta?: Record<string, unknown>): unknown;
}

export interface ForwardResult {
  status: number;
  replayed: boolean;
  /** Set when the exchange ended in an error (mapped status) or the stream was cut. */
  error?: string;
}

export interface ForwarderOptions {
  /** Base URL of the upstream; its path is a prefix of every forwarded path. */
  target: string | URL;
  tokens: BearerSource;
  timeouts?: Partial<ForwarderTimeouts>;
  /** Request bodies up to this size are retained while streaming so that a 401 can be replayed. */
  replayBodyLimitBytes?: number;
  /** A forced refresh is not repeated within this window (protects Entra from a 401 storm). */
  minForcedRefreshIntervalMs?: number;
  /** Extra request headers (lower case) never sent upstream. */
  stripRequestHeaders?: readonly string[];
  /** Most upstream connections at once. */
  maxSockets?: number;
  /** Idle pooled connections are closed after this long (upstream keep-alive hints are honoured too). */
  freeSocketTimeoutMs?: number;
  /** Extra CA certificates for an HTTPS upstream. */
  ca?: string | Buffer | Array<string | Buffer>;
  logger?: ForwarderLogger;
  /** Called once per forwarded request when its outcome is known (metrics). */
  onResult?: (result: ForwardResult) => void;
}

export type NextFunction = (err?: unknown) => void;

export interface Forwarder {
  /** Express-compatible handler; without `next`, errors are written as JSON by the engine itself. */
  handle(req: IncomingMessage, res: ServerResponse, next?: NextFunction): void;
  /** Closes pooled upstream connections (in-flight exchanges are cut). */
  close(): Promise<void>;
  readonly target: URL;
}

const TIMEOUT_CODES: Record<string, string> = {
  UND_ERR_CONNECT_TIMEOUT: 'connect',
  UND_ERR_HEADERS_TIMEOUT: 'first-byte',
  UND_ERR_BODY_TIMEOUT: 'idle',
};
/** A pooled connection that the upstream closed as we reused it. */
const STALE_CONNECTION_CODES = new Set(['UND_ERR_SOCKET', 'ECONNRESET', 'EPIPE']);
const IDEMPOTENT_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

export function createForwarder(options: ForwarderOptions): Forwarder {
  const target = new URL(String(options.target));
  const timeouts: ForwarderTimeouts = { ...DEFAULT_TIMEOUTS, ...options.timeouts };
  const replayLimit = options.replayBodyLimitBytes ?? DEFAULT_REPLAY_BODY_LIMIT_BYTES;
  const minForcedRefreshIntervalMs = options.minForcedRefreshIntervalMs ?? 5_000;
  const strip = options.stripRequestHeaders ? new Set(options.stripRequestHeaders.map((h) => h.toLowerCase())) : undefined;
  const basePath = target.pathname.replace(/\/+$/, '');
  const hostHeader = target.host;
  const logger = options.logger;
  const onResult = options.onResult;
  const tokens = options.tokens;

  const pool = new Pool(target.origin, {
    connections: options.maxSockets ?? DEFAULT_MAX_SOCKETS,
    pipelining: 1,
    keepAliveTimeout: options.freeSocketTimeoutMs ?? DEFAULT_FREE_SOCKET_TIMEOUT_MS,
    headersTimeout: timeouts.firstByteMs,
    bodyTimeout: timeouts.idleMs,
    connect: { timeout: timeouts.connectMs, noDelay: true, ...(options.ca === undefined ? {} : { ca: options.ca }) },
  });

  let lastForcedRefreshAt = 0;

  function handle(req: IncomingMessage, res: ServerResponse, next?: NextFunction): void {
    // Express strips a mount path from req.url; the upstream gets the full path and query string.
    const url = (req as IncomingMessage & { originalUrl?: string }).originalUrl ?? req.url ?? '/';
    const path = basePath + url;
    const method = req.method ?? 'GET';
    const contentLength = req.headers[CONTENT_LENGTH_HEADER];
    const hasBody = req.headers[TRANSFER_ENCODING_HEADER] !== undefined || (contentLength !== undefined && contentLength !== '0');

    let finished = false;
    let replayed = false;
    let transportRetried = false;
    // Body retained (as it is sent) for a replay; undefined once it outgrew the limit.
    let retained: Buffer[] | undefined = hasBody ? [] : undefined;
    let retainedBytes = 0;
    let bodyComplete = !hasBody;
    let bodyDispatched = false;
    let controller: Dispatcher.DispatchController | undefined;

    const result = (status: number, error?: string) => {
      if (onResult !== undefined) onResult(error === undefined ? { status, replayed } : { status, replayed, error });
    };

    const fail = (err: unknown) => {
      if (finished) return;
      finished = true;
      const appError = toAppError(err);
      result(appError.status, appError.code);
      if (res.headersSent) {
        res.destroy();
        return;
      }
      if (next !== undefined) {
        next(appError);
        return;
      }
      const body = JSON.stringify({ error: { code: appError.code, message: appError.expose ? appError.message : 'internal error' } });
      res.writeHead(appError.status, { ...appError.headers, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      res.end(body);
    };

    if (hasBody) {
      req.once('end', () => {
        bodyComplete = true;
      });
    }
    // The client went away: stop the upstream exchange too.
    res.once('close', () => {
      if (res.writableFinished) return;
      if (controller !== undefined && !controller.aborted) controller.abort(new Error('client closed the connection'));
      if (!finished) {
        finished = true;
        result(499, 'client_closed');
      }
    });

    const attempt = (bearer: string) => {
      if (finished || res.destroyed) return;
      let body: Dispatcher.DispatchOptions['body'] = null;
      if (hasBody && !bodyDispatched) {
        bodyDispatched = true;
        body = req;
      } else if (hasBody) {
        body = Buffer.concat(retained ?? []);
      }
      // Set when this attempt's response is a 401 that gets replayed: its body is drained and dropped.
      let replay: Promise<string> | undefined;
      let status = 0;
      let responseStarted = false;

      pool.dispatch(
        { path, method, body, headers: upstreamRequestHeaders(req.headers, { host: hostHeader, bearer, strip }) },
        {
          onRequestStart(c) {
            controller = c;
          },
          onBodySent(chunk: Buffer) {
            if (retained === undefined || body !== req) return;
            retainedBytes += chunk.length;
            if (retainedBytes > replayLimit) retained = undefined;
            else retained.push(chunk);
          },
          onResponseStart(c, statusCode, headers, statusMessage) {
            status = statusCode;
            responseStarted = true;
            if (statusCode === 401 && !replayed && !finished) {
              const fresh = freshBearer(bearer);
              // Replayable only when the whole body is known: none, or complete and retained.
              if (fresh !== undefined && bodyComplete && (retained !== undefined || !hasBody)) {
                replayed = true;
                replay = fresh;
                // Handled when the 401's body has been drained; until then a rejection is not "unhandled".
                fresh.catch(() => undefined);
                return;
              }
              // Not replayable: the 401 goes to the client, the refreshed token serves its retry.
              fresh?.catch((err: unknown) => logger?.warn('forced token refresh failed', { reason: String(err) }));
            }
            if (finished) {
              c.abort(new Error('client gone'));
              return;
            }
            res.writeHead(statusCode, statusMessage, downstreamHeaders(headers));
          },
          onResponseData(c, chunk) {
            if (replay !== undefined || finished) return;
            if (!res.write(chunk)) {
              c.pause();
              res.once('drain', () => c.resume());
            }
          },
          onResponseEnd() {
            if (replay !== undefined) {
              replay.then(attempt, fail);
              return;
            }
            if (finished) return;
            finished = true;
            result(status);
            res.end();
          },
          onResponseError(_c, err) {
            if (finished) return;
            if (replay !== undefined) {
              replay.then(attempt, fail);
              return;
            }
            const code = (err as NodeJS.ErrnoException).code ?? '';
            if (responseStarted) {
              logger?.warn('upstream stream cut', { path: url, reason: err.message, code });
              finished = true;
              result(status, TIMEOUT_CODES[code] !== undefined ? `${TIMEOUT_CODES[code]}_timeout` : 'upstream_aborted');
              res.destroy();
              return;
            }
            // A pooled keep-alive connection closed by the upstream as we reused it: retry once, idempotent requests only.
            if (
              !transportRetried &&
              !responseStarted &&
              STALE_CONNECTION_CODES.has(code) &&
              IDEMPOTENT_METHODS.has(method) &&
              (!hasBody || (retained !== undefined && bodyComplete))
            ) {
              transportRetried = true;
              attempt(bearer);
              return;
            }
            logger?.warn('upstream request failed', { path: url, reason: err.message, code });
            fail(err);
          },
        },
      );
    };

    /** A token other than `used` (refreshing it if needed), or undefined within the refresh back-off window. */
    const freshBearer = (used: string): Promise<string> | undefined => {
      const now = Date.now();
      const cur = tokens.current?.();
      if (cur !== undefined && cur.token !== used) return Promise.resolve(cur.token);
      if (now - lastForcedRefreshAt < minForcedRefreshIntervalMs) return undefined;
      lastForcedRefreshAt = now;
      logger?.debug('upstream said 401: forcing a token refresh', { path: url });
      return tokens.invalidate().then((t) => t.token);
    };

    const cached = tokens.current?.();
    if (cached !== undefined) {
      attempt(cached.token);
    } else {
      tokens.getToken().then((t) => attempt(t.token), fail);
    }
  }

  return {
    handle,
    target,
    close: () => pool.destroy(),
  };
}

function toAppError(err: unknown): AppError {
  if (err instanceof AppError) return err;
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (code !== undefined && TIMEOUT_CODES[code] !== undefined) {
    return new UpstreamTimeoutError(`upstream ${TIMEOUT_CODES[code]} timeout`, { cause: err });
  }
  if (code === 'ETIMEDOUT') return new UpstreamTimeoutError(`upstream timed out (${code})`, { cause: err });
  if (typeof code === 'string') return new UpstreamError(`upstream unreachable (${code})`, { cause: err });
  if (err instanceof Error && /token/i.test(err.message)) {
    return new ServiceUnavailableError('no valid token for the upstream', 'token_unavailable', { cause: err });
  }
  return new UpstreamError('upstream request failed', { cause: err });
}
