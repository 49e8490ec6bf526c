// Listening and graceful shutdown. close() stops accepting, lets in-flight requests and long-lived
// responses (SSE, chunked streams) finish until the deadline, closes idle keep-alive sockets at once,
// and destroys whatever is still open at the deadline. It resolves true when everything drained.
import { once } from 'node:events';
import http from 'node:http';
import https from 'node:https';
import type { Socket } from 'node:net';
import type { Logger } from './logger.js';
import { RequestWithLazyLog } from './request-logger.js';

export interface ServeOptions {
  host: string;
  port: number;
  logger: Logger;
  /** How long close() waits for in-flight requests and streams (default 10 s). */
  shutdownTimeoutMs?: number;
  /** PEM strings or Buffers; serves HTTPS when given. */
  tls?: { cert: string | Buffer; key: string | Buffer; ca?: string | Buffer };
  /** Idle keep-alive timeout; above common load balancer idle timeouts (default 65 s). */
  keepAliveTimeoutMs?: number;
  /**
   * A request's headers must arrive within this long of its first byte, else 408 and the connection
   * is closed (default 12 s). Separate from the keep-alive timeout: an idle connection may wait for
   * its next request for keepAliveTimeoutMs, a slow-headers client (slowloris) may not hold it open.
   */
  headersTimeoutMs?: number;
  /** Most client connections at once; further ones are closed at accept (default: no cap). */
  maxConnections?: number;
}

export interface RunningServer {
  server: http.Server | https.Server;
  /** e.g. http://127.0.0.1:41234 (IPv6 hosts in brackets). */
  url: string;
  port: number;
  /** Graceful close; resolves true if everything finished before the deadline, false if cut. Idempotent. */
  close(): Promise<boolean>;
}

/** Servers whose drain deadline was blown in this process (runMain exits 1 when this grew). */
export const shutdownState = { deadlineExceeded: 0, maxShutdownTimeoutMs: 0 };

const DEFAULT_SHUTDOWN_TIMEOUT_MS = 10_000;
const DEFAULT_HEADERS_TIMEOUT_MS = 12_000;
/** How often node checks the headers timeout (its default, 30 s, would let 12 s become 42 s). */
const CONNECTIONS_CHECKING_INTERVAL_MS = 1_000;

export async function serve(handler: http.RequestListener, options: ServeOptions): Promise<RunningServer> {
  const { logger } = options;
  const shutdownTimeoutMs = options.shutdownTimeoutMs ?? DEFAULT_SHUTDOWN_TIMEOUT_MS;
  shutdownState.maxShutdownTimeoutMs = Math.max(shutdownState.maxShutdownTimeoutMs, shutdownTimeoutMs);
  let closing = false;
  let inFlight = 0;

  const listener: http.RequestListener = (req, res) => {
    inFlight++;
    // While closing, every response tells the client not to reuse the connection.
    if (closing) res.shouldKeepAlive = false;
    // `on`: a response closes once; once() would add a wrapper per request.
    res.on('close', () => {
      inFlight--;
      if (closing) setImmediate(() => server.closeIdleConnections());
    });
    handler(req, res);
  };
  // Requests whose req.log (baseMiddleware) is created on first use, also without express.
  const IncomingMessage = RequestWithLazyLog;
  const serverOptions = {
    IncomingMessage,
    headersTimeout: options.headersTimeoutMs ?? DEFAULT_HEADERS_TIMEOUT_MS,
    connectionsCheckingInterval: CONNECTIONS_CHECKING_INTERVAL_MS,
  };
  const server = options.tls
    ? https.createServer(
        { cert: options.tls.cert, key: options.tls.key, ca: options.tls.ca, ...serverOptions },
        listener,
      )
    : http.createServer(serverOptions, listener);
  server.keepAliveTimeout = options.keepAliveTimeoutMs ?? 65_000;
  if (options.maxConnections !== undefined) server.maxConnections = options.maxConnections;

  // Raw sockets, including upgraded ones (WebSocket) the HTTP server no longer tracks.
  const sockets = new Set<Socket>();
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });

  server.listen(options.port, options.host);
  await Promise.race([
    once(server, 'listening'),
    once(server, 'error').then(([error]) => {
      throw error;
    }),
  ]);
  // After a successful listen, server errors (EMFILE on accept, ...) are logged, not fatal.
  server.on('error', (error) => logger.error('server error', { err: error }));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : options.port;
  const url = `${options.tls ? 'https' : 'http'}://${urlHost(options.host)}:${port}`;
  logger.info('listening', { url, port, host: options.host, tls: Boolean(options.tls) });

  let closed: Promise<boolean> | undefined;
  const close = () => (closed ??= shutdown());

  async function shutdown(): Promise<boolean> {
    closing = true;
    const started = Date.now();
    logger.info('closing', { url, inFlight, connections: sockets.size, shutdownTimeoutMs });
    const allClosed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeIdleConnections();
    // Responses that finish make their connection idle; sweep those regularly too.
    const sweep = setInterval(() => server.closeIdleConnections(), 200);
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<false>((resolve) => {
      timer = setTimeout(() => resolve(false), shutdownTimeoutMs);
    });
    const drained = await Promise.race([allClosed.then(() => true as const), deadline]);
    clearInterval(sweep);
    clearTimeout(timer);
    if (!drained) {
      shutdownState.deadlineExceeded++;
      logger.warn('shutdown deadline reached, closing open connections', {
        url,
        inFlight,
        connections: sockets.size,
        shutdownTimeoutMs,
      });
      server.closeAllConnections();
      for (const socket of sockets) socket.destroy();
      await allClosed;
    }
    logger.info('closed', { url, drained, durationMs: Date.now() - started });
    return drained;
  }

  return { server, url, port, close };
}

/** Host for the advertised URL: wildcard binds are reached through loopback. */
function urlHost(host: string): string {
  if (host === '0.0.0.0' || host === '') return '127.0.0.1';
  if (host === '::' || host === '[::]') return '[::1]';
  return host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
}
