// Raw HTTP/1.1 over a socket, for attacking servers with requests no HTTP client would send
// (absolute-form targets, `OPTIONS *`, TRACE, CONNECT, headers that never end), and an upstream
// stand-in that records every request it gets, so that "never forwarded" is observed.
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';

export interface RawResponse {
  /** Everything read until the server closed the connection (latin1). */
  data: string;
  /** Status of the first response, 0 if none came. */
  status: number;
  /** Headers of the first response, lower-case names. */
  headers: Record<string, string>;
  /** Body of the first response (the rest of `data`). */
  body: string;
}

export function parseRawResponse(data: string): RawResponse {
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(data)?.[1] ?? 0);
  const end = data.indexOf('\r\n\r\n');
  const headers: Record<string, string> = {};
  if (end !== -1) {
    for (const line of data.slice(0, end).split('\r\n').slice(1)) {
      const colon = line.indexOf(':');
      if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
    }
  }
  return { data, status, headers, body: end === -1 ? '' : data.slice(end + 4) };
}

/**
 * Writes `request` verbatim on a new connection to `url`'s host and port and resolves once the
 * server closes it (send `Connection: close` for requests the server would keep alive).
 */
export function rawExchange(url: string, request: string, timeoutMs = 20_000): Promise<RawResponse> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(port), hostname.replace(/^\[|\]$/g, ''));
    let data = '';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`the server did not close within ${timeoutMs} ms; read: ${JSON.stringify(data)}`));
    }, timeoutMs);
    socket.on('data', (chunk: Buffer) => (data += chunk.toString('latin1')));
    socket.on('error', () => undefined); // a reset after the answer still ends in 'close'
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(parseRawResponse(data));
    });
    socket.write(request);
  });
}

export interface SeenRequest {
  method: string;
  url: string;
  authorization: string | undefined;
}

export interface RecordingUpstream {
  url: string;
  /** Every request received, in order. */
  seen: SeenRequest[];
  close(): Promise<void>;
}

/**
 * An upstream that answers 200 to anything and echoes the request line and Authorization (as TRACE
 * would), recording each request.
 */
export async function startRecordingUpstream(): Promise<RecordingUpstream> {
  const seen: SeenRequest[] = [];
  const server = http.createServer((req, res) => {
    seen.push({ method: req.method ?? '', url: req.url ?? '', authorization: req.headers.authorization });
    req.resume();
    const body = `${req.method} ${req.url}\r\nauthorization: ${req.headers.authorization ?? ''}\r\n`;
    res.writeHead(200, { 'content-type': 'message/http', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  });
  server.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    seen,
    close: async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

export interface HostileRequest {
  name: string;
  /** The raw request, ending the connection's use (the server answers and closes). */
  request: string;
  /** The status a token-injecting proxy must answer (it must never forward any of these). */
  status: number;
}

/**
 * Requests a token-injecting proxy must refuse at entry, aimed at `path` (a path the proxy forwards):
 * absolute-form, asterisk-form and `//` targets (400), TRACE and CONNECT (405).
 */
export function hostileRequests(path: string): HostileRequest[] {
  const line = (method: string, target: string, host = 'proxy') =>
    `${method} ${target} HTTP/1.1\r\nHost: ${host}\r\nContent-Length: 0\r\n\r\n`;
  return [
    {
      name: 'absolute-form',
      request: line('GET', `http://evil.example${path}`, 'evil.example'),
      status: 400,
    },
    { name: 'absolute-form https', request: line('POST', `https://evil.example${path}`), status: 400 },
    { name: 'asterisk-form', request: line('OPTIONS', '*'), status: 400 },
    { name: 'a // target', request: line('GET', `//evil.example${path}`), status: 400 },
    { name: 'TRACE', request: line('TRACE', path), status: 405 },
    {
      name: 'CONNECT',
      request: 'CONNECT evil.example:443 HTTP/1.1\r\nHost: evil.example:443\r\n\r\n',
      status: 405,
    },
  ];
}
