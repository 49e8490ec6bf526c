// A recording hop between a proxy under test and its upstream stand-in: it notes which fuzz
// requests really arrived upstream (and what the upstream answered) and captures every bearer token
// the proxy presented, so the properties can tell an upstream failure from the proxy's own 5xx and
// look for dev-entra's tokens in responses and logs.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { FUZZ_ID_HEADER, MARKER_PATTERN } from './spec.js';

/** Client credentials the proxies promise never to pass on. */
const STRIPPED_CREDENTIALS = ['authorization', 'api-key', 'proxy-authorization'];

export interface Recorder {
  url: string;
  /** fuzz id -> status the upstream answered (0 while in flight, -1 when the upstream failed). */
  seen: Map<number, number>;
  /** Bearer tokens presented upstream. */
  tokens: Set<string>;
  /** fuzz id -> client credential (a marker) that reached the upstream although it must be stripped. */
  leaked: Map<number, string>;
  /**
   * Whether a 5xx the proxy answered is the upstream's: the upstream's own status passed through, or
   * a 502/503/504 for a request that really reached the upstream.
   */
  passedOn(id: number, status: number): boolean;
  close(): Promise<void>;
}

export interface RecorderOptions {
  /** Base URL of the real upstream. */
  upstream: string;
  /**
   * Paths (after URL normalisation) the recorder answers 404 itself instead of forwarding: the
   * stand-in's test-only endpoints (a header echo would hand the proxy's bearer back by design).
   */
  refuse?: RegExp;
}

export async function startRecorder(options: RecorderOptions): Promise<Recorder> {
  const upstream = new URL(options.upstream);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
  const seen = new Map<number, number>();
  const tokens = new Set<string>();
  const leaked = new Map<number, string>();
  const server = http.createServer((req, res) => {
    const id = Number(req.headers[FUZZ_ID_HEADER]);
    const auth = req.headers.authorization;
    if (typeof auth === 'string' && auth.startsWith('Bearer ')) tokens.add(auth.slice(7));
    if (Number.isInteger(id)) {
      seen.set(id, 0);
      for (const name of STRIPPED_CREDENTIALS) {
        const value = req.headers[name];
        const text = Array.isArray(value) ? value.join(', ') : (value ?? '');
        const marker = text.match(MARKER_PATTERN)?.[0];
        if (marker !== undefined) leaked.set(id, `${name}: ${marker}`);
      }
    }
    const answer = (status: number, text: string) => {
      if (Number.isInteger(id)) seen.set(id, status === 502 ? -1 : status);
      req.resume();
      if (!res.headersSent)
        res.writeHead(status, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(text) });
      res.end(text);
    };
    let path: string;
    try {
      path = new URL(req.url ?? '/', 'http://x').pathname;
    } catch {
      path = req.url ?? '/';
    }
    if (options.refuse?.test(path)) {
      answer(404, 'not forwarded by the fuzz recorder');
      return;
    }
    let up: http.ClientRequest;
    try {
      up = http.request(
        {
          agent,
          host: upstream.hostname,
          port: upstream.port,
          method: req.method,
          path: req.url,
          headers: { ...req.headers, host: upstream.host },
        },
        (upRes) => {
          if (Number.isInteger(id)) seen.set(id, upRes.statusCode ?? 0);
          res.writeHead(upRes.statusCode ?? 502, upRes.headers);
          upRes.pipe(res);
        },
      );
    } catch (err) {
      // node:http refuses some targets the proxy's HTTP stack accepted: that is the upstream saying no.
      answer(400, `upstream refused the request: ${(err as Error).message}`);
      return;
    }
    up.on('error', () => {
      if (!res.headersSent) answer(502, 'upstream unreachable');
      else res.destroy();
    });
    // A client (the proxy) that gives up mid-request must not leave the upstream request open: it
    // would hold one of the agent's sockets until the upstream's own timeout, and stall the rest.
    req.once('close', () => {
      if (!req.complete) up.destroy();
    });
    res.once('close', () => {
      if (!res.writableFinished) up.destroy();
    });
    // Answered before the body was read to the end (the upstream did not want it): read and drop
    // the rest, or node:http never parses the next request on this keep-alive connection.
    res.once('finish', () => {
      if (!req.complete) {
        req.unpipe(up);
        req.resume();
      }
    });
    req.pipe(up);
  });
  server.keepAliveTimeout = 65_000;
  server.listen(0, '127.0.0.1');
  await new Promise<void>((resolve) => server.once('listening', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    seen,
    tokens,
    leaked,
    passedOn: (id, status) => {
      const upstreamStatus = seen.get(id);
      if (upstreamStatus === undefined) return false;
      return upstreamStatus === status || [502, 503, 504].includes(status);
    },
    close: () =>
      new Promise<void>((resolve) => {
        agent.destroy();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
