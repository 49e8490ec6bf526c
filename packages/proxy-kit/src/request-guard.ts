// What a token-injecting proxy refuses where a request enters, before any routing: a proxy that adds
// a bearer must never forward a request it cannot place on its own upstream, nor one that makes the
// upstream echo the request (and so the bearer) back to the caller.
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { AppError, BadRequestError, endLingering } from '@auth-sidecars/service-kit';

/** TRACE (and IIS's TRACK) echo the request, injected Authorization included; CONNECT asks for a tunnel. */
export const REFUSED_METHODS: ReadonlySet<string> = new Set(['TRACE', 'TRACK', 'CONNECT']);

/** The methods a 405 lists as usable (the proxies forward any other method unchanged). */
const ALLOW = 'GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS';

export class MethodRefusedError extends AppError {
  constructor(method: string) {
    super(405, 'method_not_allowed', `${method} is never forwarded by this proxy`, {
      headers: { allow: ALLOW, connection: 'close' },
    });
  }
}

export class RequestTargetError extends BadRequestError {
  constructor() {
    super(
      'the request target must be a path starting with a single "/" (absolute-form, authority-form and "*" are refused)',
      'invalid_request_target',
    );
    this.headers.connection = 'close';
  }
}

/**
 * Why `req` must not go further, or undefined. Only origin-form targets (`/path?query`) are
 * forwarded: an absolute-form target (`GET http://evil.example/ HTTP/1.1`) names another host, and
 * `*`, `//host` or anything not starting with `/` cannot be joined to the upstream's base path
 * without changing its meaning.
 */
export function requestRefusal(req: IncomingMessage): AppError | undefined {
  const method = req.method ?? '';
  if (REFUSED_METHODS.has(method)) return new MethodRefusedError(method);
  const target = req.url ?? '';
  if (target.charCodeAt(0) !== 0x2f /* / */ || target.charCodeAt(1) === 0x2f) return new RequestTargetError();
  return undefined;
}

/**
 * node:http hands CONNECT to the server's 'connect' event, never to the request listener; without a
 * listener it drops the connection without an answer. This one answers 405 in the same JSON shape.
 * The socket is ours from here: node no longer reads it, parses it or times it out (see service-kit's endLingering).
 */
export function refuseConnect(_req: IncomingMessage, socket: Duplex): void {
  const error = new MethodRefusedError('CONNECT');
  const body = JSON.stringify({ error: { code: error.code, message: error.message } });
  socket.on('error', () => undefined); // the client may be gone already
  endLingering(
    socket,
    `HTTP/1.1 405 Method Not Allowed\r\nAllow: ${ALLOW}\r\nContent-Type: application/json; charset=utf-8\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}
