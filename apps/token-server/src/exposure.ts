// Whether a listen address is reachable only from this host (or pod): the startup warning about
// serving secrets and tokens in clear text depends on it.
import { isIP } from 'node:net';

export function isLoopback(host: string): boolean {
  const h = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  if (h.toLowerCase() === 'localhost') return true;
  if (isIP(h) === 4) return h.startsWith('127.');
  if (isIP(h) === 6) return h === '::1' || h.toLowerCase().startsWith('::ffff:127.');
  return false;
}

/** The warning to log at startup, or undefined when the setup is safe. */
export function exposureWarning(host: string, tls: boolean): string | undefined {
  if (tls || isLoopback(host)) return undefined;
  return 'listening on a non-loopback address without TLS: secrets and tokens cross the network in clear text';
}
