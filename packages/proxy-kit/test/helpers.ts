// Test helpers: a proxy server around a forwarder, and small HTTP client utilities.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createForwarder, type Forwarder, type ForwarderOptions } from '../src/index.js';

export interface TestProxy {
  url: string;
  forwarder: Forwarder;
  close(): Promise<void>;
}

export async function startTestProxy(options: ForwarderOptions): Promise<TestProxy> {
  const forwarder = createForwarder(options);
  const server = http.createServer((req, res) => forwarder.handle(req, res));
  server.listen(0, '127.0.0.1');
  await new Promise<void>((resolve) => server.once('listening', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    forwarder,
    close: async () => {
      await forwarder.close();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}

export interface RawResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  rawHeaders: string[];
  body: string;
}

/** A plain node:http request (fetch hides hop-by-hop headers and merges some values). */
export function rawRequest(
  url: string,
  options: { method?: string; headers?: http.OutgoingHttpHeaders; body?: string | Buffer } = {},
): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      url,
      { method: options.method ?? 'GET', headers: options.headers, agent: false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            rawHeaders: res.rawHeaders,
            body: Buffer.concat(chunks).toString('utf8'),
          }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(options.body);
  });
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
