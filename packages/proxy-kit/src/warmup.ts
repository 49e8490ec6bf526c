// Warms a proxy's request path before it reports ready. Its first request would otherwise pay for
// compiling every function on the way (the bundle's functions are compiled when first called) and
// for undici's HTTP parser (WebAssembly, compiled at its first connection): milliseconds, where a
// warm request adds tens of microseconds. A few requests go through a copy of the app's listener
// on loopback, forwarded to a stand-in upstream on loopback with a placeholder token; its logger
// and metrics go nowhere. Nothing reaches the real upstream, the identity provider or the logs.
import http, { type RequestListener } from 'node:http';
import { once } from 'node:events';
import { Writable } from 'node:stream';
import { createLogger, createMetrics, serve, type Logger, type Metrics } from '@auth-sidecars/service-kit';
import { createForwarder, type Forwarder, type ForwarderOptions } from './forwarder.js';
import { forwardMetrics } from './metrics.js';
import { staticTokenSource } from './static-token.js';

/** One request the warm-up sends (a forwarded route of the app, a typical body). */
export interface WarmUpRequest {
  method: string;
  path: string;
  headers?: Record<string, string>;
  body?: string;
}

export interface WarmUpOptions {
  service: string;
  /** The real logger's level: the warm-up takes the same logging branches. */
  level: string;
  requests: readonly WarmUpRequest[];
  /** Builds the app's listener around the given forwarder, logger and metrics. */
  listener(deps: { forwarder: Forwarder; logger: Logger; metrics: Metrics }): RequestListener;
  /** The real forwarder's settings (its target, tokens, logger and metrics are the warm-up's own). */
  forwarder: Pick<ForwarderOptions, 'timeouts' | 'maxSockets'>;
  /** Each request is sent this many times (default 3: compiled, then with its inline caches warm). */
  rounds?: number;
}

/** Sends the warm-up requests; resolves when they are done (it never rejects). */
export async function warmUp(options: WarmUpOptions): Promise<void> {
  const upstream = http.createServer((req, res) => {
    req.resume();
    req.once('end', () => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': 2 });
      res.end('{}');
    });
  });
  upstream.listen(0, '127.0.0.1');
  await once(upstream, 'listening');
  const { port } = upstream.address() as { port: number };
  const logger = createLogger({ service: options.service, level: options.level, stream: nowhere() });
  const metrics = createMetrics(options.service, { defaultMetrics: false });
  const forwarder = createForwarder({
    ...options.forwarder,
    target: `http://127.0.0.1:${port}`,
    tokens: staticTokenSource('warm-up'),
    logger: logger.child({ component: 'forwarder' }),
    onResult: forwardMetrics(metrics.registry).record,
  });
  const server = await serve(options.listener({ forwarder, logger, metrics }), {
    host: '127.0.0.1',
    port: 0,
    logger,
  });
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  try {
    for (let round = 0; round < (options.rounds ?? 3); round += 1) {
      for (const request of options.requests) await send(server.url, request, agent);
    }
  } catch {
    // A warm-up that fails leaves the path colder, nothing else: never a reason not to serve.
  } finally {
    agent.destroy();
    await server.close();
    await forwarder.close();
    upstream.closeAllConnections();
    upstream.close();
    logger.close();
  }
}

function send(base: string, request: WarmUpRequest, agent: http.Agent): Promise<void> {
  return new Promise((resolve, reject) => {
    const body = request.body === undefined ? undefined : Buffer.from(request.body);
    const req = http.request(`${base}${request.path}`, {
      method: request.method,
      agent,
      headers: {
        ...request.headers,
        ...(body === undefined ? {} : { 'content-length': String(body.length) }),
      },
    });
    req.setTimeout(5_000, () => req.destroy(new Error('warm-up request timed out')));
    req.once('error', reject);
    req.once('response', (res) => {
      res.resume();
      res.once('end', resolve);
      res.once('error', reject);
    });
    req.end(body);
  });
}

function nowhere(): Writable {
  return new Writable({
    write(_chunk, _encoding, callback) {
      callback();
    },
  });
}
