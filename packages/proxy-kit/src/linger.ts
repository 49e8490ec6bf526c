// Closing a connection that node:http handed over (the 'connect' and 'upgrade' events): node no
// longer reads, parses or times out such a socket. Ending our side alone left it open for good when
// the client had sent more than the answer needed (a body after CONNECT, frames before the 101): the
// unread bytes filled the receive window, so the client's own close never arrived. One socket leaked
// per such request, and a graceful shutdown waited for them until its deadline.
import type { Duplex } from 'node:stream';
import { LINGERING_CLOSE_MS } from './constants.js';

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
