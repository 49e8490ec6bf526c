// The Kubernetes API as the signed-in user: a streaming reverse proxy for /k8s/* (request and
// response bodies piped, watches included) and SelfSubjectRulesReview for /api/me. The only
// credential sent is the user's own AKS token; the broker has no impersonation rights to lend.
import https from 'node:https';
import type { IncomingMessage, OutgoingHttpHeaders } from 'node:http';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { RequestHandler } from 'express';
import { BadRequestError, UpstreamError, UpstreamTimeoutError } from '@auth-sidecars/service-kit';
import {
  KUBE_STRIPPED_REQUEST_HEADER_PREFIXES,
  KUBE_STRIPPED_REQUEST_HEADERS,
  KUBE_STRIPPED_RESPONSE_HEADERS,
} from './constants.js';
import { kubeAttributes, type AuditLog } from './audit.js';
import type { Session } from './sessions.js';
import type { BrokerMetrics } from './metrics.js';

export interface KubeTarget {
  /** https://host:port of the API server. */
  apiUrl: string;
  /** PEM CA bundle that signed the API server's certificate. */
  ca?: string | Buffer;
  /** Time allowed until the API server starts answering (watches may then stream for long). */
  timeoutMs: number;
}

export type TokenSource = (session: Session) => Promise<string>;

/** Paths the proxy forwards: the resource APIs and discovery, nothing else on the API server. */
const ALLOWED_PATH = /^\/(api|apis|version)(\/|$)/;

/** A path segment that cannot change which object the path names once the API server decodes it. */
function isPlainSegment(segment: string): boolean {
  let decoded: string;
  try {
    decoded = decodeURIComponent(segment);
  } catch {
    return false;
  }
  return decoded !== '.' && decoded !== '..' && !/[/\\]/.test(decoded);
}

export class KubeClient {
  private readonly base: URL;
  private readonly agent: https.Agent;

  constructor(readonly target: KubeTarget) {
    this.base = new URL(target.apiUrl);
    this.agent = new https.Agent({ ca: target.ca, keepAlive: true, maxSockets: 256 });
  }

  /** Starts a request to the API server; resolves when its response headers arrive. */
  request(options: {
    method: string;
    path: string;
    token: string;
    headers?: OutgoingHttpHeaders;
    body?: NodeJS.ReadableStream;
    signal?: AbortSignal;
  }): Promise<IncomingMessage> {
    return new Promise((resolve, reject) => {
      const req = https.request(
        {
          protocol: this.base.protocol,
          hostname: this.base.hostname.replace(/^\[|\]$/g, ''),
          port: this.base.port || 443,
          method: options.method,
          path: options.path,
          agent: this.agent,
          headers: { ...options.headers, authorization: `Bearer ${options.token}` },
          signal: options.signal,
        },
        (res) => {
          clearTimeout(timer);
          resolve(res);
        },
      );
      const timer = setTimeout(
        () => req.destroy(new UpstreamTimeoutError('the Kubernetes API server did not answer in time')),
        this.target.timeoutMs,
      );
      req.once('error', (error) => {
        clearTimeout(timer);
        reject(
          error instanceof UpstreamTimeoutError
            ? error
            : new UpstreamError('the Kubernetes API server is unreachable', { cause: error }),
        );
      });
      if (options.body) {
        pipeline(options.body, req).catch((error: unknown) =>
          req.destroy(error instanceof Error ? error : new Error(String(error))),
        );
      } else {
        req.end();
      }
    });
  }

  /** What the user may do in `namespace` (authorization.k8s.io/v1 SelfSubjectRulesReview). */
  async selfSubjectRulesReview(token: string, namespace: string): Promise<{ status: number; body: unknown }> {
    const payload = JSON.stringify({
      apiVersion: 'authorization.k8s.io/v1',
      kind: 'SelfSubjectRulesReview',
      spec: { namespace },
    });
    const res = await this.request({
      method: 'POST',
      path: '/apis/authorization.k8s.io/v1/selfsubjectrulesreviews',
      token,
      headers: {
        'content-type': 'application/json',
        accept: 'application/json',
        'content-length': Buffer.byteLength(payload),
      },
      body: Readable.from([payload]),
    });
    const chunks: Buffer[] = [];
    for await (const chunk of res) chunks.push(chunk as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      body = undefined;
    }
    return { status: res.statusCode ?? 502, body };
  }

  close(): void {
    this.agent.destroy();
  }
}

export interface KubeProxyOptions {
  client: KubeClient;
  token: TokenSource;
  audit: AuditLog;
  metrics?: BrokerMetrics;
}

/** Mount under /k8s after the session check and the rate limit. */
export function kubeProxy(options: KubeProxyOptions): RequestHandler {
  return async (req, res, next) => {
    const session = res.locals.session as Session;
    const started = Date.now();
    // The raw path, not a WHATWG-normalised one: what is checked is exactly what is forwarded.
    const q = req.url.indexOf('?');
    const path = q < 0 ? req.url : req.url.slice(0, q);
    const search = q < 0 ? '' : req.url.slice(q);
    if (!ALLOWED_PATH.test(path) || path.includes('//') || !path.split('/').every(isPlainSegment)) {
      return next(
        new BadRequestError(
          'only Kubernetes API paths (/api, /apis, /version) are forwarded',
          'invalid_path',
        ),
      );
    }
    const attrs = kubeAttributes(req.method, path, new URLSearchParams(search));
    let status = 0;
    let aborted = false;
    const finish = () => {
      options.metrics?.kubeCalls.inc({ verb: attrs.verb, code: String(status || 'error') });
      options.audit.record({
        user: session.user.username,
        oid: session.user.oid,
        ...attrs,
        status,
        requestId: req.id,
        durationMs: Date.now() - started,
        path,
        ...(aborted ? { aborted: true } : {}),
      });
    };

    let token: string;
    try {
      token = await options.token(session);
    } catch (error) {
      return next(error);
    }

    const controller = new AbortController();
    // The browser went away (closed tab, ended watch): stop the upstream call too.
    res.once('close', () => {
      if (!res.writableFinished) {
        aborted = true;
        controller.abort();
      }
    });

    const headers: OutgoingHttpHeaders = {};
    for (const [name, value] of Object.entries(req.headers)) {
      if (value === undefined || KUBE_STRIPPED_REQUEST_HEADERS.has(name)) continue;
      if (KUBE_STRIPPED_REQUEST_HEADER_PREFIXES.some((p) => name.startsWith(p))) continue;
      headers[name] = value;
    }
    const hasBody =
      req.headers['content-length'] !== undefined || req.headers['transfer-encoding'] !== undefined;

    let upstream: IncomingMessage;
    try {
      upstream = await options.client.request({
        method: req.method,
        path: path + search,
        token,
        headers,
        body: hasBody ? req : undefined,
        signal: controller.signal,
      });
    } catch (error) {
      status = error instanceof UpstreamTimeoutError ? 504 : 502;
      finish();
      return next(error);
    }
    status = upstream.statusCode ?? 502;
    const responseHeaders: OutgoingHttpHeaders = {};
    for (const [name, value] of Object.entries(upstream.headers)) {
      if (value !== undefined && !KUBE_STRIPPED_RESPONSE_HEADERS.has(name)) responseHeaders[name] = value;
    }
    responseHeaders['cache-control'] = 'no-store';
    res.writeHead(status, responseHeaders);
    res.flushHeaders(); // a watch must reach the browser before its first event
    try {
      await pipeline(upstream, res);
    } catch {
      aborted = true;
    } finally {
      finish();
    }
  };
}
