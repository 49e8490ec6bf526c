// WebSocket upgrades on /k8s (kubectl exec, attach, port-forward). The handshake runs through the
// same express pipeline as every /k8s call (authentication, rate limit, stream cap, subresource
// policy, audit), on a response bound to the raw socket; kubeProxy then forwards the handshake with
// the user's token and, on the API server's 101, splices the two sockets. The frames pass as bytes,
// never parsed, so the subprotocol (v5.channel.k8s.io, SPDY tunnelled over WebSocket, ...) is
// whatever kubectl and the API server agreed on.
import { ServerResponse, type IncomingMessage, type RequestListener, type Server } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { endLingering } from '@auth-sidecars/service-kit';
import { PATHS } from './constants.js';

export interface PendingUpgrade {
  socket: Duplex;
  /** Bytes the client sent after its handshake (the first frames), to go upstream first. */
  head: Buffer;
}

const pending = new WeakMap<IncomingMessage, PendingUpgrade>();

/** The raw socket of a WebSocket handshake being served, if `req` is one. */
export function upgradeOf(req: IncomingMessage): PendingUpgrade | undefined {
  return pending.get(req);
}

/** A WebSocket handshake (RFC 6455 4.1: GET, `Upgrade: websocket`) for the Kubernetes API. */
export function isKubeUpgrade(req: IncomingMessage): boolean {
  const upgrade = req.headers.upgrade;
  const url = req.url ?? '';
  return (
    req.method === 'GET' &&
    url.startsWith(`${PATHS.kube}/`) &&
    upgrade !== undefined &&
    upgrade.split(',').some((p) => p.trim().toLowerCase() === 'websocket')
  );
}

/**
 * Routes `server`'s WebSocket handshakes on /k8s into `app` with the socket attached; every other
 * request carrying `Upgrade` (h2c, SPDY) stays a plain request for the request listener.
 */
export function attachKubeUpgrades(server: Server | HttpsServer, app: RequestListener): void {
  // Node >= 24.9 decides per request (@types/node does not know the property yet).
  (server as { shouldUpgradeCallback?: (req: IncomingMessage) => boolean }).shouldUpgradeCallback =
    isKubeUpgrade;
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => undefined);
    const res = new ServerResponse(req);
    res.assignSocket(socket as Socket);
    res.shouldKeepAlive = false;
    pending.set(req, { socket, head });
    // An answer that is not a tunnel (a refusal, an error) is the last thing on this connection;
    // what the client sent after its handshake is read and dropped until it closes (lingering close).
    res.once('finish', () => endLingering(socket));
    app(req, res);
  });
}

/** Writes the raw 101 head: the response object cannot send a status of 101 and keep the socket. */
export function switchingProtocols(headers: Record<string, string | string[]>): string {
  let head = 'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n';
  for (const [name, value] of Object.entries(headers))
    for (const v of Array.isArray(value) ? value : [value]) head += `${name}: ${v}\r\n`;
  return `${head}\r\n`;
}

/** How long one side of a tunnel may stay open after the other closed. */
const HALF_CLOSED_GRACE_MS = 10_000;

/**
 * Splices an open tunnel: bytes both ways, the other side ended when one closes (and cut if it
 * does not close in time). Resolves when both sides are closed.
 */
export function splice(
  client: Duplex,
  clientHead: Buffer,
  upstream: Duplex,
  upstreamHead: Buffer,
): Promise<void> {
  return new Promise((resolve) => {
    upstream.on('error', () => undefined);
    client.on('error', () => undefined);
    let open = 2;
    const closed = (other: Duplex) => () => {
      open--;
      if (open === 0) return resolve();
      if (!other.destroyed) {
        other.end();
        setTimeout(() => other.destroy(), HALF_CLOSED_GRACE_MS).unref();
      }
    };
    client.once('close', closed(upstream));
    upstream.once('close', closed(client));
    (client as Socket).setNoDelay?.(true);
    (upstream as Socket).setNoDelay?.(true);
    if (clientHead.length > 0) upstream.write(clientHead);
    if (upstreamHead.length > 0) client.write(upstreamHead);
    upstream.pipe(client);
    client.pipe(upstream);
  });
}
