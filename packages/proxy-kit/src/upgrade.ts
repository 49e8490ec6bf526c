// WebSocket passthrough for the token-injecting proxies (the OpenAI Realtime API). The upgrade
// request goes upstream through an undici Pool with the client's credentials replaced by the bearer,
// as every forwarded request does; after the upstream's 101 the two sockets are spliced and the
// WebSocket frames pass as bytes both ways, never parsed, so close frames and their codes arrive as
// sent. An upstream that refuses the upgrade (401, 403, 404...) is answered to the client as it
// answered, body included; an upstream 401 first gets one forced token refresh and one replay, with
// the forwarder's rules (bearer.ts: the token source owns the throttle). Upgrades pass the same
// request guard as any request (request-guard.ts).
import type { IncomingHttpHeaders, IncomingMessage, OutgoingHttpHeaders, Server } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { endLingering, pathOf, type AppError } from '@auth-sidecars/service-kit';
import { Pool, type Dispatcher } from 'undici';
import {
  DEFAULT_FREE_SOCKET_TIMEOUT_MS,
  DEFAULT_MAX_SOCKETS,
  DEFAULT_TIMEOUTS,
  MAX_HELD_401_BYTES,
  WEBSOCKET_PROTOCOL_HEADER,
} from './constants.js';
import { freshBearer, replayAfter401, tokenSourceError, type BearerSource } from './bearer.js';
import { toAppError, type ForwarderLogger, type ForwarderTimeouts, type ForwardResult } from './forwarder.js';
import { downstreamHeaders, upstreamRequestHeaders } from './headers.js';
import { requestRefusal } from './request-guard.js';

export interface UpgradeLogger extends ForwarderLogger {
  info(message: string, meta?: Record<string, unknown>): unknown;
}

export interface UpgradeProxyOptions {
  /** Base URL of the upstream; its path is a prefix of every forwarded path (as for the forwarder). */
  target: string | URL;
  tokens: BearerSource;
  /** Connect and first-byte (the upstream's 101 or refusal) timeouts. An open tunnel has none. */
  timeouts?: Partial<Pick<ForwarderTimeouts, 'connectMs' | 'firstByteMs'>>;
  /** Which WebSocket upgrades are taken (default: all). The others are served as plain HTTP requests. */
  accepts?(req: IncomingMessage): boolean;
  /**
   * Sec-WebSocket-Protocol entries the upstream never sees: browsers cannot set headers on a
   * WebSocket, so some APIs take a key as a subprotocol (`openai-insecure-api-key.<key>`).
   */
  dropSubprotocol?(protocol: string): boolean;
  maxSockets?: number;
  ca?: string | Buffer | Array<string | Buffer>;
  logger?: UpgradeLogger;
  /** Called once per upgrade request when its outcome is known (status 101 for an open tunnel). */
  onResult?: (result: ForwardResult) => void;
}

export interface UpgradeProxy {
  /** For http.Server's `shouldUpgradeCallback`: a WebSocket upgrade this proxy takes. */
  shouldUpgrade(req: IncomingMessage): boolean;
  /** http.Server `upgrade` listener. */
  handle(req: IncomingMessage, socket: Socket, head: Buffer): void;
  /** Routes `server`'s WebSocket upgrades here; every other request stays with its request listener. */
  attach(server: Server | HttpsServer): void;
  /** Tunnels open now. */
  readonly open: number;
  /** Cuts open tunnels and closes pooled upstream connections. */
  close(): Promise<void>;
}

/** How long one side of a tunnel may stay open after the other closed. */
const HALF_CLOSED_GRACE_MS = 10_000;

interface Context {
  pool: Pool;
  tokens: BearerSource;
  basePath: string;
  hostHeader: string;
  accepts: (req: IncomingMessage) => boolean;
  dropSubprotocol: ((protocol: string) => boolean) | undefined;
  logger: UpgradeLogger | undefined;
  onResult: ((result: ForwardResult) => void) | undefined;
  tunnels: Set<Tunnel>;
}

/**
 * A WebSocket handshake (RFC 6455 section 4.1) this proxy may forward: GET, `Upgrade: websocket`,
 * and nothing the request guard refuses (a `//host` target, absolute-form, ...). A refused one stays
 * with the request listener, whose guard answers it as it answers any request.
 */
export function isWebSocketUpgrade(req: IncomingMessage): boolean {
  const upgrade = req.headers.upgrade;
  return (
    req.method === 'GET' &&
    requestRefusal(req) === undefined &&
    upgrade !== undefined &&
    upgrade.split(',').some((p) => p.trim().toLowerCase() === 'websocket')
  );
}

export function createUpgradeProxy(options: UpgradeProxyOptions): UpgradeProxy {
  const target = new URL(String(options.target));
  const timeouts = { ...DEFAULT_TIMEOUTS, ...options.timeouts };
  const ctx: Context = {
    pool: new Pool(target.origin, {
      connections: options.maxSockets ?? DEFAULT_MAX_SOCKETS,
      pipelining: 1,
      keepAliveTimeout: DEFAULT_FREE_SOCKET_TIMEOUT_MS,
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
    accepts: options.accepts ?? (() => true),
    dropSubprotocol: options.dropSubprotocol,
    logger: options.logger,
    onResult: options.onResult,
    tunnels: new Set(),
  };
  const shouldUpgrade = (req: IncomingMessage) => isWebSocketUpgrade(req) && ctx.accepts(req);
  const handle = (req: IncomingMessage, socket: Socket, head: Buffer) =>
    new Tunnel(ctx, req, socket, head).start(shouldUpgrade(req));
  return {
    shouldUpgrade,
    handle,
    attach(server) {
      // Node >= 24.9: without this, any `Upgrade:` request (h2c too) would leave the request
      // listener for `upgrade`. (@types/node does not know the property yet.)
      (server as { shouldUpgradeCallback?: (req: IncomingMessage) => boolean }).shouldUpgradeCallback =
        shouldUpgrade;
      server.on('upgrade', handle);
    },
    get open() {
      return ctx.tunnels.size;
    },
    async close() {
      for (const tunnel of ctx.tunnels) tunnel.destroy();
      await ctx.pool.destroy();
    },
  };
}

/** The raw HTTP/1.1 response head written on the client's socket (no ServerResponse exists here). */
function responseHead(status: number, message: string | undefined, headers: OutgoingHttpHeaders): string {
  let head = `HTTP/1.1 ${status} ${message || STATUS_CODES[status] || ''}\r\n`;
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    for (const v of Array.isArray(value) ? value : [value]) head += `${name}: ${String(v)}\r\n`;
  }
  return `${head}\r\n`;
}

/** One upgrade request: its upstream attempts (the first, at most one replay after a 401) and the spliced sockets. */
class Tunnel {
  readonly path: string;
  readonly started = Date.now();
  replayed = false;
  /** The client has its answer (a 101, a refusal or an error): nothing else is written. */
  answered = false;
  upstream: Socket | undefined;
  controller: Dispatcher.DispatchController | undefined;

  constructor(
    readonly ctx: Context,
    readonly req: IncomingMessage,
    readonly client: Socket,
    readonly head: Buffer,
  ) {
    this.path = pathOf(req.url);
  }

  start(taken: boolean): void {
    const client = this.client;
    client.on('error', () => undefined);
    client.once('close', () => this.onClientClose());
    this.ctx.tunnels.add(this);
    if (!taken) {
      // Only reached where the server cannot route such requests back to its request listener.
      const refusal = requestRefusal(this.req);
      if (refusal !== undefined) this.answerError(refusal);
      else
        this.answerJson(
          400,
          'bad_request',
          'only WebSocket upgrades (GET, Upgrade: websocket) are served here',
        );
      return;
    }
    const cached = this.ctx.tokens.current?.();
    if (cached !== undefined) this.attempt(cached.token);
    else
      this.ctx.tokens.getToken().then(
        (t) => this.attempt(t.token),
        (err: unknown) => this.fail(tokenSourceError(err)),
      );
  }

  attempt(bearer: string): void {
    if (this.client.destroyed) return;
    const headers = upstreamRequestHeaders(this.req.headers, { host: this.ctx.hostHeader, bearer });
    this.dropSubprotocols(headers);
    this.ctx.pool.dispatch(
      {
        path: this.ctx.basePath + (this.req.url ?? '/'),
        method: 'GET',
        headers,
        body: null,
        upgrade: 'websocket',
      },
      new UpgradeAttempt(this, bearer),
    );
  }

  private dropSubprotocols(headers: OutgoingHttpHeaders): void {
    const drop = this.ctx.dropSubprotocol;
    const offered = headers[WEBSOCKET_PROTOCOL_HEADER];
    if (drop === undefined || offered === undefined) return;
    const kept = String(offered)
      .split(',')
      .map((p) => p.trim())
      .filter((p) => p !== '' && !drop(p));
    if (kept.length === 0) delete headers[WEBSOCKET_PROTOCOL_HEADER];
    else headers[WEBSOCKET_PROTOCOL_HEADER] = kept.join(', ');
  }

  /** The upstream switched protocols: answer the client with its 101 and splice the sockets. */
  splice(headers: IncomingHttpHeaders, upstream: Socket): void {
    if (this.answered || this.client.destroyed) {
      upstream.destroy();
      return;
    }
    this.answered = true;
    this.upstream = upstream;
    const client = this.client;
    // When one side is gone, the other gets what was already piped, then a FIN; a peer that does not
    // close its side in time is cut. Errors end in 'close' too.
    upstream.on('error', () => undefined);
    upstream.once('close', () => this.sideClosed(client));
    client.once('close', () => this.sideClosed(upstream));
    client.setNoDelay(true);
    upstream.setNoDelay(true);
    // The upstream's handshake answer as it is: Sec-WebSocket-Accept, -Protocol and -Extensions were
    // negotiated end to end, so the frames that follow need no translation.
    client.write(responseHead(101, 'Switching Protocols', headers));
    if (this.head.length > 0) upstream.write(this.head);
    upstream.pipe(client);
    client.pipe(upstream);
    this.result(101);
    this.ctx.logger?.info('websocket open', { path: this.path, replayed: this.replayed });
  }

  private sideClosed(other: Socket): void {
    if (!other.destroyed) {
      other.end();
      setTimeout(() => other.destroy(), HALF_CLOSED_GRACE_MS).unref();
      return;
    }
    this.finish();
  }

  /** Both sides are closed: forget the tunnel and log its life once. */
  private finish(): void {
    if (!this.ctx.tunnels.delete(this)) return;
    const upstream = this.upstream;
    this.ctx.logger?.info('websocket closed', {
      path: this.path,
      durationMs: Date.now() - this.started,
      bytesFromClient: upstream?.bytesWritten ?? 0,
      bytesToClient: upstream?.bytesRead ?? 0,
    });
  }

  /** The upstream refused the upgrade: its status, headers and body go to the client, then the connection closes. */
  refuseHead(status: number, message: string | undefined, headers: IncomingHttpHeaders): void {
    this.answered = true;
    const out = downstreamHeaders(headers);
    out.connection = 'close';
    this.client.write(responseHead(status, message, out));
    this.ctx.logger?.info('websocket refused by the upstream', { path: this.path, status });
  }

  result(status: number, error?: string): void {
    this.ctx.onResult?.(
      error === undefined ? { status, replayed: this.replayed } : { status, replayed: this.replayed, error },
    );
  }

  /** No answer from the upstream: a JSON error, as the forwarder gives for plain requests. */
  fail(err: unknown): void {
    if (this.answered) {
      this.destroy();
      return;
    }
    const appError: AppError = toAppError(err);
    this.ctx.logger?.warn('websocket upgrade failed', {
      path: this.path,
      status: appError.status,
      code: appError.code,
      reason: err instanceof Error ? err.message : String(err),
    });
    this.result(appError.status, appError.code);
    this.answerError(appError);
  }

  /** The error's status, headers (retry-after, allow) and JSON body, as the forwarder writes them. */
  private answerError(error: AppError): void {
    this.answerJson(error.status, error.code, error.expose ? error.message : 'internal error', error.headers);
  }

  private answerJson(status: number, code: string, message: string, headers: OutgoingHttpHeaders = {}): void {
    this.answered = true;
    const body = JSON.stringify({ error: { code, message } });
    endLingering(
      this.client,
      responseHead(status, undefined, {
        ...headers,
        'content-type': 'application/json',
        'content-length': Buffer.byteLength(body),
        connection: 'close',
      }) + body,
    );
  }

  /** The client left before a tunnel was open: stop waiting for the upstream. */
  onClientClose(): void {
    if (this.upstream !== undefined) return;
    if (!this.answered && this.controller !== undefined && !this.controller.aborted)
      this.controller.abort(new Error('client closed the connection'));
    this.ctx.tunnels.delete(this);
  }

  /** Cuts both sides now (shutdown, a broken refusal). */
  destroy(): void {
    this.client.destroy();
    this.upstream?.destroy();
    if (this.upstream === undefined) this.ctx.tunnels.delete(this);
  }
}

/** One upstream dispatch of an upgrade request (undici DispatchHandler). */
class UpgradeAttempt implements Dispatcher.DispatchHandler {
  /** Set while this attempt's 401 may be replayed: the token to replay with. */
  replay: Promise<string> | undefined;
  /** The 401 held back meanwhile: the answer if no newer token comes. */
  held:
    | { headers: IncomingHttpHeaders; statusMessage: string | undefined; chunks: Buffer[]; bytes: number }
    | undefined;
  refused = false;
  status = 0;

  constructor(
    readonly tunnel: Tunnel,
    readonly bearer: string,
  ) {}

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.tunnel.controller = controller;
  }

  onRequestUpgrade(
    _controller: Dispatcher.DispatchController,
    _statusCode: number,
    headers: IncomingHttpHeaders,
    socket: Duplex,
  ): void {
    // undici calls this for a 101 only; the socket is the upstream TCP (or TLS) socket.
    this.tunnel.splice(headers, socket as Socket);
  }

  onResponseStart(
    controller: Dispatcher.DispatchController,
    statusCode: number,
    headers: IncomingHttpHeaders,
    statusMessage?: string,
  ): void {
    const tunnel = this.tunnel;
    this.status = statusCode;
    if (tunnel.answered || tunnel.client.destroyed) {
      controller.abort(new Error('client gone'));
      return;
    }
    if (statusCode === 401 && !tunnel.replayed) {
      tunnel.replayed = true;
      this.replay = freshBearer(tunnel.ctx.tokens, this.bearer, {
        logger: tunnel.ctx.logger,
        path: tunnel.path,
      });
      this.held = { headers, statusMessage, chunks: [], bytes: 0 };
      // Handled when the 401's body has been read; until then a rejection is not "unhandled".
      this.replay.catch(() => undefined);
      return;
    }
    this.refuse(headers, statusMessage);
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.replay !== undefined) {
      const held = this.held!;
      held.chunks.push(chunk);
      held.bytes += chunk.length;
      // Not a 401 worth holding (an OAuth error body is a few hundred bytes): it goes through as is.
      if (held.bytes > MAX_HELD_401_BYTES) this.release();
      return;
    }
    if (!this.refused) return;
    const client = this.tunnel.client;
    if (!client.write(chunk)) {
      controller.pause();
      client.once('drain', () => controller.resume());
    }
  }

  onResponseEnd(): void {
    const tunnel = this.tunnel;
    if (this.replay !== undefined) {
      this.replayNow();
      return;
    }
    if (!this.refused) return;
    tunnel.result(this.status);
    endLingering(tunnel.client);
  }

  onResponseError(_controller: Dispatcher.DispatchController, err: Error): void {
    if (this.replay !== undefined) {
      this.replayNow(err);
      return;
    }
    if (this.refused) {
      this.tunnel.result(this.status, 'upstream_aborted');
      this.tunnel.destroy();
      return;
    }
    this.tunnel.fail(err);
  }

  /** The upstream's refusal goes to the client: head now, body as it comes. */
  private refuse(headers: IncomingHttpHeaders, statusMessage: string | undefined): void {
    this.refused = true;
    this.tunnel.refuseHead(this.status, statusMessage, headers);
  }

  /** Replays with a newer token; with the same one (refresh held back), the held 401 is the answer. */
  private replayNow(bodyError?: Error): void {
    replayAfter401(this.replay!, this.bearer, this.tunnel, () => this.sendHeld(), bodyError);
  }

  private sendHeld(): void {
    const tunnel = this.tunnel;
    const held = this.held!;
    this.held = undefined;
    this.replay = undefined;
    tunnel.replayed = false;
    if (tunnel.answered || tunnel.client.destroyed) return;
    this.refuse(held.headers, held.statusMessage);
    for (const chunk of held.chunks) tunnel.client.write(chunk);
    tunnel.result(this.status);
    endLingering(tunnel.client);
  }

  /** Gives up the replay of a 401 whose body outgrew the hold: what was held goes out, the rest streams. */
  private release(): void {
    const tunnel = this.tunnel;
    const held = this.held!;
    this.held = undefined;
    this.replay = undefined;
    tunnel.replayed = false;
    this.refuse(held.headers, held.statusMessage);
    for (const chunk of held.chunks) tunnel.client.write(chunk);
  }
}
