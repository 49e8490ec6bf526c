// Closing a connection that node:http handed over (the 'connect' and 'upgrade' events): node no
// longer reads, parses or times out such a socket. Ending our side alone left it open for good when
// the client had sent more than the answer needed (a body after CONNECT, frames after a handshake
// that was refused): the unread bytes filled the receive window, so the client's own close never
// arrived. One socket leaked per such request, and a graceful shutdown waited for them until its
// deadline (found by the fuzz suite, in both proxies and in aks-broker).
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';

/**
 * How long such a connection may keep sending after its answer before it is cut: what it sends
 * meanwhile is read and dropped, so that its close gets through (a lingering close, as nginx's).
 */
export const LINGERING_CLOSE_MS = 5_000;

/**
 * Ends our side with `last` (if given), then reads and drops whatever the client still sends until it
 * closes its side; cut after `lingerMs`.
 */
export function endLingering(socket: Duplex, last?: string, lingerMs: number = LINGERING_CLOSE_MS): void {
  if (socket.destroyed) return;
  const cut = setTimeout(() => socket.destroy(), lingerMs);
  socket.once('close', () => clearTimeout(cut));
  socket.resume();
  if (last === undefined) socket.end();
  else socket.end(last);
}

/**
 * Once `res` is out, drops what is left of `req`'s body. node drops a body nobody read, but leaves
 * one that was being read (streamed to an upstream) to its reader; a reader that stops when the
 * upstream answered early (undici, stream.pipeline) even destroys it: the socket stayed paused,
 * the connection's next request was never parsed and the connection never closed. The rest is
 * dropped as node drops an unread body (IncomingMessage's `_dumped`: its parser then discards the
 * bytes instead of buffering them).
 */
export function dropBodyAfterAnswer(req: IncomingMessage, res: ServerResponse): void {
  const socket = req.socket;
  res.once('finish', () => {
    if (req.complete || socket === null || socket.destroyed) return;
    (req as IncomingMessage & { _dumped?: boolean })._dumped = true;
    req.removeAllListeners('data');
    req.resume();
    socket.resume();
  });
}
