// The forwarding engine: injects a fresh bearer from a token source and streams the request and the
// response through a keep-alive agent without buffering or re-chunking. Upstream statuses pass
// through unchanged; the only retry is one replay after a forced token refresh on an upstream 401.
import http from 'node:http';
import https from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { AppError, ServiceUnavailableError, UpstreamError, UpstreamTimeoutError } from '@auth-sidecars/service-kit';
import {
  CONTENT_LENGTH_HEADER,
  DEFAULT_FREE_SOCKET_TIMEOUT_MS,
  DEFAULT_MAX_SOCKETS,
  DEFAULT_REPLAY_BODY_LIMIT_BYTES,
  DEFAULT_TIMEOUTS,
  TRANSFER_ENCODING_HEADER,
} from './constants.js';
import { downstreamResponseHeaders, upstreamRequestHeaders } from './headers.js';

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
  /** From the request being fully sent to the response head; exceeded -> 504. */
  firstByteMs: number;
  /** Socket inactivity while a body streams either way; before the response head -> 504, after it the stream is cut. */
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
  maxSockets?: number;
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
  /** Closes pooled upstream sockets. */
  close(): void;
  readonly target: URL;
}

type TimeoutPhase = 'connect' | 'first-byte' | 'idle';

class PhaseTimeout extends Error {
  constructor(readonly phase: TimeoutPhase, ms: number) {
    super(`upstream ${phase} timeout after ${ms} ms`);
  }
}

const RETRYABLE_TRANSPORT_CODES = new Set(['ECONNRESET', 'EPIPE']);

export function createForwarder(options: ForwarderOptions): Forwarder {
  const target = new URL(String(options.target));
  const isHttps = target.protocol === 'https:';
  const timeouts: ForwarderTimeouts = { ...DEFAULT_TIMEOUTS, ...options.timeouts };
  const replayLimit = options.replayBodyLimitBytes ?? DEFAULT_REPLAY_BODY_LIMIT_BYTES;
  const minForcedRefreshIntervalMs = options.minForcedRefreshIntervalMs ?? 5_000;
  const strip = options.stripRequestHeaders ? new Set(options.stripRequestHeaders.map((h) => h.toLowerCase())) : undefined;
  const basePath = target.pathname.replace(/\/+$/, '');
  const hostHeader = target.host;
  const hostname = target.hostname.replace(/^\[|\]$/g, '');
  const port = target.port === '' ? (isHttps ? 443 : 80) : Number(target.port);
  const logger = options.logger;
  const onResult = options.onResult;

  const agentOptions = {
    keepAlive: true,
    maxSockets: options.maxSockets ?? DEFAULT_MAX_SOCKETS,
    maxFreeSockets: options.maxSockets ?? DEFAULT_MAX_SOCKETS,
    timeout: options.freeSocketTimeoutMs ?? DEFAULT_FREE_SOCKET_TIMEOUT_MS,
    scheduling: 'lifo' as const,
    noDelay: true,
  };
  const agent = isHttps ? new https.Agent({ ...agentOptions, ca: options.ca }) : new http.Agent(agentOptions);
  const request = isHttps ? https.request : http.request;

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
    // Body retained (while it streams) for a replay; undefined once it outgrew the limit.
    let retained: Buffer[] | undefined = hasBody ? [] : undefined;
    let retainedBytes = 0;
    let bodyComplete = !hasBody;
    let bodyPiped = false;
    let activeUpstream: http.ClientRequest | undefined;

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
      if (!res.writableFinished) {
        activeUpstream?.destroy();
        if (!finished) {
          finished = true;
          result(499, 'client_closed');
        }
      }
    });
    req.once('error', () => activeUpstream?.destroy());

    const attempt = (bearer: string) => {
      if (finished || res.destroyed) return;
      const upReq = request({
        agent,
        host: hostname,
        port,
        method,
        path,
        headers: upstreamRequestHeaders(req.headers, { host: hostHeader, bearer, strip }),
        setHost: false,
      });
      activeUpstream = upReq;
      let firstByteTimer: NodeJS.Timeout | undefined;
      let connectTimer: NodeJS.Timeout | undefined;

      upReq.once('socket', (socket) => {
        if (socket.connecting) {
          connectTimer = setTimeout(() => upReq.destroy(new PhaseTimeout('connect', timeouts.connectMs)), timeouts.connectMs);
          socket.once(isHttps ? 'secureConnect' : 'connect', () => clearTimeout(connectTimer));
        }
      });
      upReq.setTimeout(timeouts.idleMs, () => upReq.destroy(new PhaseTimeout('idle', timeouts.idleMs)));
      upReq.once('finish', () => {
        // Request fully sent: now waiting for the response head, which may legitimately take long.
        upReq.setTimeout(0);
        firstByteTimer = setTimeout(() => upReq.destroy(new PhaseTimeout('first-byte', timeouts.firstByteMs)), timeouts.firstByteMs);
      });

      upReq.once('response', (upRes) => {
        clearTimeout(firstByteTimer);
        clearTimeout(connectTimer);
        const status = upRes.statusCode ?? 502;
        if (status === 401 && !replayed) {
          const fresh = freshBearer(bearer);
          // Replayable only when the whole body is known: none, or complete and retained.
          if (fresh !== undefined && bodyComplete && (retained !== undefined || !hasBody)) {
            replayed = true;
            upRes.resume();
            fresh.then(attempt, fail);
            return;
          }
          // Not replayable: the 401 goes to the client, the refreshed token serves its retry.
          fresh?.catch((err: unknown) => logger?.warn('forced token refresh failed', { reason: String(err) }));
        }
        upReq.setTimeout(timeouts.idleMs);
        res.writeHead(status, upRes.statusMessage, downstreamResponseHeaders(upRes.rawHeaders));
        upRes.once('error', () => res.destroy());
        upRes.once('end', () => {
          if (finished) return;
          finished = true;
          result(status, upRes.complete ? undefined : 'upstream_aborted');
        });
        upRes.once('close', () => {
          if (!upRes.complete && !res.writableFinished) res.destroy();
        });
        upRes.pipe(res);
      });

      upReq.once('error', (err: NodeJS.ErrnoException) => {
        clearTimeout(firstByteTimer);
        clearTimeout(connectTimer);
        if (finished) return;
        if (res.headersSent) {
          logger?.warn('upstream stream cut', { path: url, reason: err.message });
          finished = true;
          result(res.statusCode, err instanceof PhaseTimeout ? `${err.phase}_timeout` : 'upstream_aborted');
          res.destroy();
          return;
        }
        // A pooled keep-alive socket closed by the upstream at the moment we reused it: retry once on a fresh one.
        if (
          !transportRetried &&
          upReq.reusedSocket &&
          RETRYABLE_TRANSPORT_CODES.has(err.code ?? '') &&
          (!hasBody || (retained !== undefined && bodyComplete))
        ) {
          transportRetried = true;
          attempt(bearer);
          return;
        }
        logger?.warn('upstream request failed', { path: url, reason: err.message, code: err.code });
        fail(err);
      });

      if (!bodyPiped && hasBody) {
        bodyPiped = true;
        // Attached only now: a 'data' listener switches the request into flowing mode.
        req.on('data', (chunk: Buffer) => {
          if (retained === undefined) return;
          retainedBytes += chunk.length;
          if (retainedBytes > replayLimit) retained = undefined;
          else retained.push(chunk);
        });
        req.pipe(upReq);
      } else if (hasBody && retained !== undefined) {
        for (const chunk of retained) upReq.write(chunk);
        upReq.end();
      } else {
        upReq.end();
      }
    };

    /** A token other than `used` (refreshing it if needed), or undefined within the refresh back-off window. */
    const freshBearer = (used: string): Promise<string> | undefined => {
      const now = Date.now();
      const cur = options.tokens.current?.();
      if (cur !== undefined && cur.token !== used) return Promise.resolve(cur.token);
      if (now - lastForcedRefreshAt < minForcedRefreshIntervalMs) return undefined;
      lastForcedRefreshAt = now;
      logger?.debug('upstream said 401: forcing a token refresh and replaying once', { path: url });
      return options.tokens.invalidate().then((t) => t.token);
    };

    const cached = options.tokens.current?.();
    if (cached !== undefined) {
      attempt(cached.token);
    } else {
      options.tokens.getToken().then((t) => attempt(t.token), fail);
    }
  }

  return {
    handle,
    target,
    close: () => agent.destroy(),
  };
}

function toAppError(err: unknown): AppError {
  if (err instanceof AppError) return err;
  if (err instanceof PhaseTimeout) return new UpstreamTimeoutError(err.message, { cause: err });
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'ETIMEDOUT') return new UpstreamTimeoutError(`upstream timed out (${code})`, { cause: err });
  if (typeof code === 'string') return new UpstreamError(`upstream unreachable (${code})`, { cause: err });
  if (err instanceof Error && /token/i.test(err.message)) {
    return new ServiceUnavailableError('no valid token for the upstream', 'token_unavailable', { cause: err });
  }
  return new UpstreamError('upstream request failed', { cause: err });
}
