// Header names and defaults of the forwarding engine, kept in one place.

/** Hop-by-hop headers (RFC 9110 section 7.6.1) never travel past the proxy in either direction. */
export const HOP_BY_HOP_HEADERS: ReadonlySet<string> = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

/** Client credentials that must never reach the upstream: the sidecar's bearer replaces them. */
export const CLIENT_CREDENTIAL_HEADERS: ReadonlySet<string> = new Set(['authorization', 'api-key']);

/** Request headers the engine sets itself. `expect` is dropped: Node answers 100-continue to the client. */
export const ENGINE_OWNED_REQUEST_HEADERS: ReadonlySet<string> = new Set(['host', 'expect']);

export const AUTHORIZATION_HEADER = 'authorization';
export const CONTENT_LENGTH_HEADER = 'content-length';
export const TRANSFER_ENCODING_HEADER = 'transfer-encoding';
export const WEBSOCKET_PROTOCOL_HEADER = 'sec-websocket-protocol';

export const DEFAULT_TIMEOUTS = Object.freeze({
  connectMs: 5_000,
  firstByteMs: 120_000,
  idleMs: 120_000,
});

/** Request bodies up to this size are kept (while streaming) so a 401 can be replayed once. */
export const DEFAULT_REPLAY_BODY_LIMIT_BYTES = 256 * 1024;

/** An upstream 401 body larger than this is passed through at once rather than held for a possible replay. */
export const MAX_HELD_401_BYTES = 64 * 1024;

/** Bodies with a Content-Length up to this size are sent upstream as one buffer (see ForwarderOptions). */
export const DEFAULT_SMALL_BODY_BYTES = 64 * 1024;

export const DEFAULT_MAX_SOCKETS = 256;

/** Client request headers must be complete this long after their first byte (slowloris guard). */
export const DEFAULT_CLIENT_HEADERS_TIMEOUT_MS = 12_000;
/** Concurrent client connections at most; a sidecar serves its pod, so this is generous. */
export const DEFAULT_CLIENT_MAX_CONNECTIONS = 1024;
/** Idle pooled sockets are closed before a typical upstream keep-alive timeout (5 s in Node, 60 s+ elsewhere). */
export const DEFAULT_FREE_SOCKET_TIMEOUT_MS = 4_000;
