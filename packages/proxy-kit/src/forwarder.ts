// The forwarding engine: injects a fresh bearer from a token source and streams the request and the
// response through a keep-alive undici Pool without buffering or re-chunking. Upstream statuses pass
// through unchanged; the only retry is one replay after a forced token refresh on an upstream 401.
// Built on undici's dispatch API rather than node:http's client or http-proxy-middleware: it costs
// noticeably less CPU per request (see bench/engine.mjs and the app READMEs for the figures).
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import {
  AppError,
  UpstreamError,
  UpstreamTimeoutError,
  dropBodyAfterAnswer,
} from '@auth-sidecars/service-kit';
import { Pool, type Dispatcher } from 'undici';
import {
  CONTENT_LENGTH_HEADER,
  DEFAULT_SMALL_BODY_BYTES,
  DEFAULT_FREE_SOCKET_TIMEOUT_MS,
  DEFAULT_MAX_SOCKETS,
  DEFAULT_REPLAY_BODY_LIMIT_BYTES,
  DEFAULT_TIMEOUTS,
  MAX_HELD_401_BYTES,
  TRANSFER_ENCODING_HEADER,
} from './constants.js';
import { freshBearer, replayAfter401, tokenSourceError, type BearerSource } from './bearer.js';
import { downstreamHeaders, upstreamRequestHeaders } from './headers.js';

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
  /**
   * Request bodies with a Content-Length up to this size are read before dispatch and sent as one
   * buffer (a chat request or a PromQL form arrives in a packet or two; undici's streamed-body path
   * costs far more CPU for them). Larger and chunked bodies stream. 0 streams every body.
   */
  smallBodyBytes?: number;
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

interface HeldResponse {
  headers: IncomingHttpHeaders;
  statusMessage: string | undefined;
  chunks: Buffer[];
  bytes: number;
}

/** Per-forwarder settings shared by every exchange. */
interface Context {
  pool: Pool;
  tokens: BearerSource;
  basePath: string;
  hostHeader: string;
  strip: ReadonlySet<string> | undefined;
  replayLimit: number;
  smallBodyBytes: number;
  logger: ForwarderLogger | undefined;
  onResult: ((result: ForwardResult) => void) | undefined;
}

export function createForwarder(options: ForwarderOptions): Forwarder {
  const target = new URL(String(options.target));
  const timeouts: ForwarderTimeouts = { ...DEFAULT_TIMEOUTS, ...options.timeouts };
  const ctx: Context = {
    pool: new Pool(target.origin, {
      connections: options.maxSockets ?? DEFAULT_MAX_SOCKETS,
      pipelining: 1,
      keepAliveTimeout: options.freeSocketTimeoutMs ?? DEFAULT_FREE_SOCKET_TIMEOUT_MS,
      headersTimeout: timeouts.firstByteMs,
      bodyTimeout: timeouts.idleMs,
      connect: {
        timeout: timeouts.connectMs,
        noDelay: true,
        ...(options.ca === undefined ? {} : { ca: options.ca }),
      },
    }),
    tokens: options.tokens,
    basePath: target.pathname.replace(/\/+$/, ''),
    hostHeader: target.host,
    strip: options.stripRequestHeaders
      ? new Set(options.stripRequestHeaders.map((h) => h.toLowerCase()))
      : undefined,
    replayLimit: options.replayBodyLimitBytes ?? DEFAULT_REPLAY_BODY_LIMIT_BYTES,
    smallBodyBytes: options.smallBodyBytes ?? DEFAULT_SMALL_BODY_BYTES,
    logger: options.logger,
    onResult: options.onResult,
  };

  return {
    handle: (req, res, next) => new Exchange(ctx, req, res, next).start(),
    target,
    close: () => ctx.pool.destroy(),
  };
}

/**
 * One client request: its upstream attempts (the first, at most one replay after a 401, at most one
 * retry on a stale pooled connection), the retained body for those, and the single outcome.
 * A class rather than closures: the hot path allocates one object per request and per attempt.
 */
class Exchange {
  readonly url: string;
  readonly path: string;
  readonly method: string;
  readonly hasBody: boolean;
  /** Read whole before dispatch (see ForwarderOptions.smallBodyBytes). */
  readonly smallBody: boolean;
  finished = false;
  replayed = false;
  transportRetried = false;
  /** Body retained (as it is sent) for a replay; undefined once it outgrew the limit. */
  retained: Buffer[] | undefined;
  retainedBytes = 0;
  bodyComplete: boolean;
  bodyDispatched = false;
  controller: Dispatcher.DispatchController | undefined;

  constructor(
    readonly ctx: Context,
    readonly req: IncomingMessage,
    readonly res: ServerResponse,
    readonly next: NextFunction | undefined,
  ) {
    // Express strips a mount path from req.url; the upstream gets the full path and query string.
    this.url = (req as IncomingMessage & { originalUrl?: string }).originalUrl ?? req.url ?? '/';
    this.path = ctx.basePath + this.url;
    this.method = req.method ?? 'GET';
    const contentLength = req.headers[CONTENT_LENGTH_HEADER];
    this.hasBody =
      req.headers[TRANSFER_ENCODING_HEADER] !== undefined ||
      (contentLength !== undefined && contentLength !== '0');
    this.smallBody =
      this.hasBody &&
      contentLength !== undefined &&
      req.headers[TRANSFER_ENCODING_HEADER] === undefined &&
      Number(contentLength) <= ctx.smallBodyBytes;
    this.retained = this.hasBody ? [] : undefined;
    this.bodyComplete = !this.hasBody;
  }

  start(): void {
    // The client went away: stop the upstream exchange too.
    this.res.once('close', () => this.onClientClose());
    // An upstream that answers before it read the body: the rest is dropped once the answer is out.
    if (this.hasBody) dropBodyAfterAnswer(this.req, this.res);
    if (this.smallBody) {
      const chunks = this.retained!;
      this.bodyDispatched = true;
      this.req.on('data', (chunk: Buffer) => chunks.push(chunk));
      this.req.once('end', () => {
        this.bodyComplete = true;
        this.dispatchWithToken();
      });
      return;
    }
    if (this.hasBody) this.req.once('end', () => (this.bodyComplete = true));
    this.dispatchWithToken();
  }

  dispatchWithToken(): void {
    const cached = this.ctx.tokens.current?.();
    if (cached !== undefined) this.attempt(cached.token);
    else
      this.ctx.tokens.getToken().then(
        (t) => this.attempt(t.token),
        (err: unknown) => this.fail(tokenSourceError(err)),
      );
  }

  attempt(bearer: string): void {
    if (this.finished || this.res.destroyed) return;
    let body: Dispatcher.DispatchOptions['body'] = null;
    if (this.hasBody && !this.bodyDispatched) {
      this.bodyDispatched = true;
      body = this.req;
    } else if (this.hasBody) {
      body = Buffer.concat(this.retained ?? []);
    }
    const headers = upstreamRequestHeaders(this.req.headers, {
      host: this.ctx.hostHeader,
      bearer,
      strip: this.ctx.strip,
    });
    this.ctx.pool.dispatch(
      { path: this.path, method: this.method, body, headers },
      new Attempt(this, bearer, body === this.req),
    );
  }

  result(status: number, error?: string): void {
    const onResult = this.ctx.onResult;
    if (onResult !== undefined)
      onResult(
        error === undefined
          ? { status, replayed: this.replayed }
          : { status, replayed: this.replayed, error },
      );
  }

  /** Ends the exchange with an error: JSON status before the response head, a cut stream after it. */
  fail(err: unknown): void {
    if (this.finished) return;
    this.finished = true;
    const appError = toAppError(err);
    this.result(appError.status, appError.code);
    const res = this.res;
    if (res.headersSent) {
      res.destroy();
      return;
    }
    if (this.next !== undefined) {
      this.next(appError);
      return;
    }
    const text = JSON.stringify({
      error: { code: appError.code, message: appError.expose ? appError.message : 'internal error' },
    });
    res.writeHead(appError.status, {
      ...appError.headers,
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(text),
    });
    res.end(text);
  }

  onClientClose(): void {
    if (this.res.writableFinished) return;
    if (this.controller !== undefined && !this.controller.aborted)
      this.controller.abort(new Error('client closed the connection'));
    if (!this.finished) {
      this.finished = true;
      this.result(499, 'client_closed');
    }
  }
}

/** One upstream dispatch of an exchange (undici DispatchHandler). */
class Attempt implements Dispatcher.DispatchHandler {
  status = 0;
  responseStarted = false;
  /** Set while this attempt's 401 may be replayed: the token to replay with. */
  replay: Promise<string> | undefined;
  /** The 401 held back meanwhile: the answer if no newer token comes. */
  held: HeldResponse | undefined;

  constructor(
    readonly ex: Exchange,
    readonly bearer: string,
    readonly streamsClientBody: boolean,
  ) {}

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.ex.controller = controller;
  }

  onBodySent(chunk: Buffer): void {
    const ex = this.ex;
    if (ex.retained === undefined || !this.streamsClientBody) return;
    ex.retainedBytes += chunk.length;
    if (ex.retainedBytes > ex.ctx.replayLimit) ex.retained = undefined;
    else ex.retained.push(chunk);
  }

  onResponseStart(
    controller: Dispatcher.DispatchController,
    statusCode: number,
    headers: IncomingHttpHeaders,
    statusMessage?: string,
  ): void {
    const ex = this.ex;
    this.status = statusCode;
    this.responseStarted = true;
    if (statusCode === 401 && !ex.replayed && !ex.finished) {
      const fresh = freshBearer(ex.ctx.tokens, this.bearer, { logger: ex.ctx.logger, path: ex.url });
      // Replayable only when the whole body is known: none, or complete and retained.
      if (ex.bodyComplete && (ex.retained !== undefined || !ex.hasBody)) {
        ex.replayed = true;
        this.replay = fresh;
        this.held = { headers, statusMessage, chunks: [], bytes: 0 };
        // Handled when the 401's body has been read; until then a rejection is not "unhandled".
        fresh.catch(() => undefined);
        return;
      }
      // Not replayable: the 401 goes to the client, the refreshed token serves its retry.
      fresh.catch((err: unknown) =>
        ex.ctx.logger?.warn('forced token refresh failed', { reason: String(err) }),
      );
    }
    if (ex.finished) {
      controller.abort(new Error('client gone'));
      return;
    }
    ex.res.writeHead(statusCode, statusMessage, downstreamHeaders(headers));
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    const ex = this.ex;
    if (this.replay !== undefined) {
      const held = this.held!;
      held.chunks.push(chunk);
      held.bytes += chunk.length;
      // Not a 401 worth holding (an OAuth error body is a few hundred bytes): it goes through as is.
      if (held.bytes > MAX_HELD_401_BYTES) this.release(controller);
      return;
    }
    if (ex.finished) return;
    if (!ex.res.write(chunk)) {
      controller.pause();
      ex.res.once('drain', () => controller.resume());
    }
  }

  onResponseEnd(): void {
    const ex = this.ex;
    if (this.replay !== undefined) {
      this.replayNow();
      return;
    }
    if (ex.finished) return;
    ex.finished = true;
    ex.result(this.status);
    ex.res.end();
  }

  onResponseError(_controller: Dispatcher.DispatchController, err: Error): void {
    const ex = this.ex;
    if (ex.finished) return;
    if (this.replay !== undefined) {
      this.replayNow(err);
      return;
    }
    const code = (err as NodeJS.ErrnoException).code ?? '';
    if (this.responseStarted) {
      ex.ctx.logger?.warn('upstream stream cut', { path: ex.url, reason: err.message, code });
      ex.finished = true;
      ex.result(
        this.status,
        TIMEOUT_CODES[code] !== undefined ? `${TIMEOUT_CODES[code]}_timeout` : 'upstream_aborted',
      );
      ex.res.destroy();
      return;
    }
    // A pooled keep-alive connection closed by the upstream as we reused it: retry once, idempotent requests only.
    if (
      !ex.transportRetried &&
      STALE_CONNECTION_CODES.has(code) &&
      IDEMPOTENT_METHODS.has(ex.method) &&
      (!ex.hasBody || (ex.retained !== undefined && ex.bodyComplete))
    ) {
      ex.transportRetried = true;
      ex.attempt(this.bearer);
      return;
    }
    ex.ctx.logger?.warn('upstream request failed', { path: ex.url, reason: err.message, code });
    ex.fail(err);
  }

  /** Replays with a newer token; with the same one (refresh held back), the held 401 is the answer. */
  private replayNow(bodyError?: Error): void {
    replayAfter401(this.replay!, this.bearer, this.ex, () => this.sendHeld(), bodyError);
  }

  private sendHeld(): void {
    const ex = this.ex;
    const held = this.held!;
    this.held = undefined;
    if (ex.finished) return;
    ex.finished = true;
    ex.replayed = false;
    ex.res.writeHead(this.status, held.statusMessage, downstreamHeaders(held.headers));
    for (const chunk of held.chunks) ex.res.write(chunk);
    ex.result(this.status);
    ex.res.end();
  }

  /** Gives up the replay of a 401 whose body outgrew the hold: what was held goes out, the rest streams. */
  private release(controller: Dispatcher.DispatchController): void {
    const ex = this.ex;
    const held = this.held!;
    this.replay = undefined;
    this.held = undefined;
    ex.replayed = false;
    if (ex.finished) {
      controller.abort(new Error('client gone'));
      return;
    }
    ex.res.writeHead(this.status, held.statusMessage, downstreamHeaders(held.headers));
    for (const chunk of held.chunks) ex.res.write(chunk);
  }
}

/** An exchange's failure as the AppError the client gets (502, 503 token_unavailable, 504). */
export function toAppError(err: unknown): AppError {
  if (err instanceof AppError) return err;
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (code !== undefined && TIMEOUT_CODES[code] !== undefined) {
    return new UpstreamTimeoutError(`upstream ${TIMEOUT_CODES[code]} timeout`, { cause: err });
  }
  if (code === 'ETIMEDOUT') return new UpstreamTimeoutError(`upstream timed out (${code})`, { cause: err });
  if (typeof code === 'string') return new UpstreamError(`upstream unreachable (${code})`, { cause: err });
  return new UpstreamError('upstream request failed', { cause: err });
}
