// Header rewriting for both directions: hop-by-hop headers dropped, client credentials replaced by
// the sidecar's bearer, everything else (including repeated headers and their case) kept as sent.
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';
import { CLIENT_CREDENTIAL_HEADERS, ENGINE_OWNED_REQUEST_HEADERS, HOP_BY_HOP_HEADERS } from './constants.js';

/** Header names listed in `Connection: a, b` are hop-by-hop for this message too. */
function connectionTokens(value: string | string[] | undefined): Set<string> | undefined {
  if (value === undefined) return undefined;
  const joined = Array.isArray(value) ? value.join(',') : value;
  const tokens = new Set<string>();
  for (const token of joined.split(',')) {
    const t = token.trim().toLowerCase();
    if (t !== '') tokens.add(t);
  }
  return tokens;
}

export interface UpstreamHeaderOptions {
  host: string;
  bearer: string;
  /** Further request headers to drop (lower case). */
  strip?: ReadonlySet<string>;
}

export function upstreamRequestHeaders(
  incoming: IncomingHttpHeaders,
  options: UpstreamHeaderOptions,
): OutgoingHttpHeaders {
  const listed = connectionTokens(incoming.connection);
  const out: OutgoingHttpHeaders = {};
  for (const name in incoming) {
    if (
      HOP_BY_HOP_HEADERS.has(name) ||
      CLIENT_CREDENTIAL_HEADERS.has(name) ||
      ENGINE_OWNED_REQUEST_HEADERS.has(name) ||
      listed?.has(name) ||
      options.strip?.has(name)
    ) {
      continue;
    }
    out[name] = incoming[name];
  }
  // A chunked request body stays chunked: without content-length Node re-frames it as chunked.
  out.host = options.host;
  out.authorization = `Bearer ${options.bearer}`;
  return out;
}

/** Parsed response headers (lower-case names, repeated ones as arrays) minus hop-by-hop ones. */
export function downstreamHeaders(headers: IncomingHttpHeaders): OutgoingHttpHeaders {
  const listed = connectionTokens(headers.connection);
  const out: OutgoingHttpHeaders = {};
  for (const name in headers) {
    if (HOP_BY_HOP_HEADERS.has(name) || listed?.has(name)) continue;
    out[name] = headers[name];
  }
  return out;
}
