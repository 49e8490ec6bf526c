// Test wiring: the real app (createApp + informers through @kubernetes/client-node) against the
// Kubernetes API stand-in, served on loopback, with logs captured as parsed JSON lines.
import { connect } from 'node:net';
import { PassThrough } from 'node:stream';
import { createLogger } from '@auth-sidecars/service-kit';
import type { KubeApi } from '@auth-sidecars/testkit/kube-api';
import { KubeConfig } from '@kubernetes/client-node';
import { readConfig, type Config } from '../src/config.js';
import { startService } from '../src/service.js';
import type { SessionWatcher } from '../src/session-watcher.js';

export const NS = 'skaha-workload';
export const SA = 'system:serviceaccount:skaha-workload:carta-forwardauth';

export interface Carta {
  /** Decisions. */
  url: string;
  /** /livez, /readyz, /metrics. */
  probeUrl: string;
  config: Config;
  watcher: SessionWatcher;
  logs: Array<Record<string, unknown>>;
  close(): Promise<void>;
}

export async function startCarta(api: KubeApi, env: Record<string, string> = {}, user = SA): Promise<Carta> {
  const config = readConfig({
    PORT: '0',
    PROBE_PORT: '0',
    HOST: '127.0.0.1',
    RELIST_BACKOFF_INITIAL: '100ms',
    RELIST_BACKOFF_MAX: '400ms',
    SHUTDOWN_TIMEOUT: '2s',
    LOG_LEVEL: 'debug',
    ...env,
  });
  const stream = new PassThrough();
  const logs: Array<Record<string, unknown>> = [];
  let buffered = '';
  stream.on('data', (chunk: Buffer) => {
    buffered += chunk.toString();
    let nl: number;
    while ((nl = buffered.indexOf('\n')) !== -1) {
      logs.push(JSON.parse(buffered.slice(0, nl)) as Record<string, unknown>);
      buffered = buffered.slice(nl + 1);
    }
  });
  const logger = createLogger({ service: 'carta-forwardauth', level: config.logLevel, stream });
  const kc = new KubeConfig();
  kc.loadFromString(api.kubeconfig(user, NS));
  const service = await startService(config, { logger, kubeConfig: kc });
  return {
    url: service.url,
    probeUrl: service.probeUrl,
    config,
    watcher: service.watcher,
    logs,
    async close() {
      await service.close();
    },
  };
}

export { until } from '@auth-sidecars/testkit/wait';

export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/**
 * Sends exactly these header lines (duplicates, odd bytes and all), as a proxy in front of the
 * sidecar might, and reads the whole response.
 */
export function rawRequest(
  url: string,
  target: string,
  headers: Array<[string, string]> = [],
  method = 'GET',
): Promise<RawResponse> {
  const { hostname, port } = new URL(url);
  const head = [
    `${method} ${target} HTTP/1.1`,
    `Host: ${hostname}:${port}`,
    'Connection: close',
    ...headers.map(([k, v]) => `${k}: ${v}`),
    '',
    '',
  ].join('\r\n');
  return new Promise((resolve, reject) => {
    // write, not end: nginx takes a half-closed client for a gone one (499, no answer)
    const socket = connect(Number(port), hostname, () => socket.write(head));
    const chunks: Buffer[] = [];
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', reject);
    socket.on('close', () => {
      const text = Buffer.concat(chunks).toString('latin1');
      const [headPart = '', ...rest] = text.split('\r\n\r\n');
      const [statusLine = '', ...lines] = headPart.split('\r\n');
      const parsed: Record<string, string> = {};
      for (const line of lines) {
        const i = line.indexOf(':');
        if (i > 0) parsed[line.slice(0, i).toLowerCase()] = line.slice(i + 1).trim();
      }
      resolve({ status: Number(statusLine.split(' ')[1]), headers: parsed, body: rest.join('\r\n\r\n') });
    });
  });
}

/** Traefik forwardAuth request for an original URI. */
export function traefik(url: string, uri: string, extra: Array<[string, string]> = []): Promise<RawResponse> {
  return rawRequest(url, '/', [
    ['X-Forwarded-Method', 'GET'],
    ['X-Forwarded-Proto', 'https'],
    ['X-Forwarded-Host', 'carta.example.org'],
    ['X-Forwarded-Uri', uri],
    ['X-Forwarded-For', '203.0.113.9'],
    ...extra,
  ]);
}

/** nginx auth_request subrequest for an original URI. */
export function nginx(url: string, uri: string, extra: Array<[string, string]> = []): Promise<RawResponse> {
  return rawRequest(url, '/auth', [['X-Original-URI', uri], ...extra]);
}

/** Envoy ext_authz HTTP: the original method and path on the request line. */
export function envoy(
  url: string,
  uri: string,
  extra: Array<[string, string]> = [],
  method = 'GET',
): Promise<RawResponse> {
  return rawRequest(url, uri, extra, method);
}

export function sessionPod(name: string, sessionId: string, user: string, labels: 'new' | 'legacy' = 'new') {
  const keys =
    labels === 'new'
      ? ['canfar.net/id', 'canfar.net/username']
      : ['canfar-net-sessionID', 'canfar-net-userid'];
  return {
    name,
    namespace: NS,
    labels: { [keys[0]!]: sessionId, [keys[1]!]: user, 'canfar-net-sessionType': 'carta' },
  };
}

/** Value of the sample `name` whose labels include `labels` in Prometheus text, or undefined. */
export function sample(text: string, name: string, labels: Record<string, string>): number | undefined {
  for (const line of text.split('\n')) {
    const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const found: Record<string, string> = {};
    for (const pair of (match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) found[pair[1]!] = pair[2]!;
    if (Object.entries(labels).every(([k, v]) => found[k] === v)) return Number(match[3]);
  }
  return undefined;
}
