// A token-checking gate in front of a real Prometheus, standing in for Azure Monitor's query
// endpoint: requests without a valid Entra JWT for the right audience get 401, others are forwarded.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { TokenVerifier } from './openai-upstream.js';

export interface TokenGateOptions {
  /** Where accepted requests go (e.g. the RunningPrometheus url). */
  upstream: string;
  verify: TokenVerifier;
  /** Listen address (default 127.0.0.1) and port (default 0, ephemeral): the demo CLI sets them. */
  host?: string;
  port?: number;
}

export interface GateDecision {
  method: string;
  url: string;
  status: number;
  reason?: string;
  audience?: unknown;
}

export interface TokenGate {
  url: string;
  decisions: GateDecision[];
  close(): Promise<void>;
}

export async function startTokenGate(options: TokenGateOptions): Promise<TokenGate> {
  const upstream = new URL(options.upstream);
  const decisions: GateDecision[] = [];
  const agent = new http.Agent({ keepAlive: true });

  const server = http.createServer((req, res) => {
    const auth = req.headers.authorization;
    const token = auth?.startsWith('Bearer ') ? auth.slice(7) : undefined;
    const deny = (reason: string) => {
      decisions.push({ method: req.method ?? '', url: req.url ?? '', status: 401, reason });
      req.resume();
      const body = JSON.stringify({ error: { code: 'InvalidAuthenticationToken', message: reason } });
      res.writeHead(401, {
        'content-type': 'application/json',
        'www-authenticate': 'Bearer',
        'content-length': Buffer.byteLength(body),
      });
      res.end(body);
    };
    if (token === undefined) {
      deny('missing bearer token');
      return;
    }
    options.verify(token).then(
      (claims) => {
        decisions.push({ method: req.method ?? '', url: req.url ?? '', status: 200, audience: claims.aud });
        const headers = { ...req.headers, host: upstream.host };
        delete headers.authorization;
        const up = http.request(
          { agent, host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers },
          (upRes) => {
            res.writeHead(upRes.statusCode ?? 502, upRes.headers);
            upRes.pipe(res);
          },
        );
        up.on('error', () => {
          if (!res.headersSent) res.writeHead(502).end();
          else res.destroy();
        });
        req.pipe(up);
      },
      (err: unknown) => deny(`invalid token: ${(err as Error).message}`),
    );
  });
  const host = options.host ?? '127.0.0.1';
  server.listen(options.port ?? 0, host);
  await new Promise<void>((resolve) => server.once('listening', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host}:${port}`,
    decisions,
    close: () =>
      new Promise<void>((resolve) => {
        agent.destroy();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
