// The Kubernetes API as the caller: a streaming reverse proxy for /k8s/* (request and response
// bodies piped, watches included) and SelfSubjectRulesReview for /api/me. The only credential sent
// is the caller's own AKS token; the broker has no impersonation rights to lend. What comes back is
// treated as data from a stranger: only listed headers pass, the broker's own headers win.
import https from 'node:https';
import type { IncomingHttpHeaders, IncomingMessage, OutgoingHttpHeaders } from 'node:http';
import { Readable, type Duplex } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { RequestHandler } from 'express';
import {
  BadRequestError,
  dropBodyAfterAnswer,
  ForbiddenError,
  UpstreamError,
  UpstreamTimeoutError,
} from '@auth-sidecars/service-kit';
import {
  CREDENTIAL_RECHECK_MS,
  KUBE_API_MEDIA_TYPES,
  KUBE_RESPONSE_CSP,
  KUBE_REQUEST_HEADERS,
  KUBE_RESPONSE_HEADERS,
  RISKY_SUBRESOURCES,
  SECURITY_HEADERS,
  WEBSOCKET_REQUEST_HEADERS,
  WEBSOCKET_RESPONSE_HEADERS,
  type RiskySubresource,
} from './constants.js';
import { kubeAttributes, queryFlag, type AuditLog, type KubeRequestAttributes } from './audit.js';
import { callerOf } from './caller.js';
import { splice, switchingProtocols, upgradeOf } from './kube-upgrade.js';
import type { BrokerMetrics } from './metrics.js';
import { TooManyCallsError, TooManyStreamsError, type PerUserLimit } from './streams.js';

/** An API server answer; `switched` when it took a WebSocket upgrade (101), with the raw socket. */
export type KubeResponse = IncomingMessage & { switched?: { socket: Duplex; head: Buffer } };

export interface KubeTarget {
  /** https://host:port of the API server. */
  apiUrl: string;
  /** PEM CA bundle that signed the API server's certificate. */
  ca?: string | Buffer;
  /**
   * Time from dispatch (the broker starting on a request) until the API server's answer begins;
   * token acquisition and waiting for a connection count. A watch may then stream for long.
   */
  timeoutMs: number;
}

/** Paths the proxy forwards: the resource APIs and discovery, nothing else on the API server. */
const ALLOWED_PATH = /^\/(api|apis|version)(\/|$)/;
const RULES_REVIEW_BODY_LIMIT = 4 * 1024 * 1024;

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

/** The subresource that reaches into a workload, if the request names one (legacy /api/v1/proxy too). */
function riskySubresource(attrs: KubeRequestAttributes): RiskySubresource | undefined {
  const names: readonly string[] = RISKY_SUBRESOURCES;
  if (attrs.subresource !== undefined && names.includes(attrs.subresource))
    return attrs.subresource as RiskySubresource;
  if (attrs.resource === 'proxy') return 'proxy';
  return undefined;
}

/** JSON, YAML, protobuf (watch streams included): what the API itself serves. */
function isApiMediaType(contentType: string | undefined): boolean {
  if (contentType === undefined) return false;
  const base = contentType.split(';', 1)[0]!.trim().toLowerCase();
  return KUBE_API_MEDIA_TYPES.has(base);
}

/** Rejects with a 504 when `deadline` fires first. */
export function beforeDeadline<T>(work: Promise<T>, deadline: AbortSignal, what: string): Promise<T> {
  const timeout = () => new UpstreamTimeoutError(`${what} did not finish in time`);
  if (deadline.aborted) {
    work.catch(() => undefined);
    return Promise.reject(timeout());
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(timeout());
    deadline.addEventListener('abort', onAbort, { once: true });
    work.then(
      (value) => {
        deadline.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        deadline.removeEventListener('abort', onAbort);
        reject(error instanceof Error ? error : new Error(String(error)));
      },
    );
  });
}

export class KubeClient {
  private readonly base: URL;
  private readonly plainAgent: https.Agent;
  private readonly streamAgent: https.Agent;

  constructor(readonly target: KubeTarget) {
    this.base = new URL(target.apiUrl);
    // Plain calls share a keep-alive pool with no global cap (a cap is a queue where one user's calls
    // wait behind another's); what one user may hold is capped per user instead. Streams get an agent
    // of their own, one connection each, never pooled: they never take a plain call's connection.
    this.plainAgent = new https.Agent({ ca: target.ca, keepAlive: true, maxFreeSockets: 64 });
    this.streamAgent = new https.Agent({ ca: target.ca, keepAlive: false });
  }

  /** A request's deadline, started at dispatch (see KubeTarget.timeoutMs). */
  deadline(): AbortSignal {
    return AbortSignal.timeout(this.target.timeoutMs);
  }

  /** Starts a request to the API server; resolves when its response headers arrive. */
  request(options: {
    method: string;
    path: string;
    token: string;
    headers?: OutgoingHttpHeaders;
    body?: NodeJS.ReadableStream;
    /** A long-lived answer (watch, followed log): kept off the plain calls' connections. */
    stream?: boolean;
    /** Until the response head arrives (from `deadline()`). */
    deadline: AbortSignal;
    /** The caller went away: abandon the call at any point. */
    signal?: AbortSignal;
  }): Promise<KubeResponse> {
    const timeout = () => new UpstreamTimeoutError('the Kubernetes API server did not answer in time');
    if (options.deadline.aborted) return Promise.reject(timeout());
    return new Promise((resolve, reject) => {
      const req = https.request(
        {
          protocol: this.base.protocol,
          hostname: this.base.hostname.replace(/^\[|\]$/g, ''),
          port: this.base.port || 443,
          method: options.method,
          path: options.path,
          agent: options.stream ? this.streamAgent : this.plainAgent,
          headers: { ...options.headers, authorization: `Bearer ${options.token}` },
          signal: options.signal,
        },
        (res) => {
          options.deadline.removeEventListener('abort', onDeadline);
          resolve(res);
        },
      );
      // A 101 to a WebSocket handshake: the socket is no longer HTTP, and is the caller's now.
      req.once('upgrade', (res: IncomingMessage, socket: Duplex, head: Buffer) => {
        options.deadline.removeEventListener('abort', onDeadline);
        resolve(Object.assign(res, { switched: { socket, head } }));
      });
      const onDeadline = () => req.destroy(timeout());
      options.deadline.addEventListener('abort', onDeadline, { once: true });
      req.once('error', (error) => {
        options.deadline.removeEventListener('abort', onDeadline);
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

  /**
   * What the user may do in `namespace` (authorization.k8s.io/v1 SelfSubjectRulesReview). The whole
   * answer, body included, must arrive before `deadline`.
   */
  async selfSubjectRulesReview(
    token: string,
    namespace: string,
    deadline: AbortSignal,
  ): Promise<{ status: number; body: unknown }> {
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
      deadline,
    });
    const text = await beforeDeadline(readBody(res), deadline, 'the rules review').catch((error: unknown) => {
      res.destroy();
      throw error;
    });
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      body = undefined;
    }
    return { status: res.statusCode ?? 502, body };
  }

  close(): void {
    this.plainAgent.destroy();
    this.streamAgent.destroy();
  }
}

async function readBody(res: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of res) {
    size += (chunk as Buffer).length;
    if (size > RULES_REVIEW_BODY_LIMIT) throw new UpstreamError('the rules review answer is too large');
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

export interface KubeProxyOptions {
  client: KubeClient;
  audit: AuditLog;
  /** Streams (watches, followed logs, risky subresources) one user may hold (KUBE_MAX_STREAMS_PER_USER). */
  streams: PerUserLimit;
  /** Plain calls one user may have in flight (KUBE_MAX_CALLS_PER_USER). */
  calls: PerUserLimit;
  /** Risky subresources this deployment forwards anyway (KUBE_ALLOW_SUBRESOURCES). */
  allowedSubresources: readonly RiskySubresource[];
  metrics?: BrokerMetrics;
}

/** Subresources that only work over an upgraded connection (a stream of frames both ways). */
const UPGRADE_SUBRESOURCES: ReadonlySet<string> = new Set(['exec', 'attach', 'portforward']);

/** Mount under /k8s after an authentication step (it sets the Caller) and the rate limit. */
export function kubeProxy(options: KubeProxyOptions): RequestHandler {
  const allowed = new Set<string>(options.allowedSubresources);
  return async (req, res, next) => {
    // Dispatch: from here on everything counts against the request's time (token, queue, server).
    const deadline = options.client.deadline();
    const caller = callerOf(res);
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
    const query = new URLSearchParams(search);
    const attrs = kubeAttributes(req.method, path, query);
    const risky = riskySubresource(attrs);
    if (risky !== undefined && !allowed.has(risky)) {
      return next(
        new ForbiddenError(
          `the broker does not forward the ${risky} subresource (an operator can allow it with KUBE_ALLOW_SUBRESOURCES)`,
          'subresource_not_allowed',
        ),
      );
    }
    const upgrade = upgradeOf(req);
    if (upgrade !== undefined && caller.via !== 'credential') {
      // The page never opens one; a WebSocket is not bound by CORS, so a cookie alone never gets one.
      return next(
        new ForbiddenError(
          'WebSocket connections (exec, attach, port-forward) are for kubectl credentials only',
          'upgrade_not_allowed',
        ),
      );
    }
    if (upgrade === undefined && risky !== undefined && UPGRADE_SUBRESOURCES.has(risky)) {
      return next(
        new BadRequestError(
          `${risky} needs a WebSocket connection (kubectl 1.30 or later); SPDY is not forwarded`,
          'upgrade_required',
        ),
      );
    }
    const stream = attrs.verb === 'watch' || queryFlag(query, 'follow') || risky !== undefined;
    let status = 0;
    let aborted = false;
    const limit = stream ? options.streams : options.calls;
    const release = limit.tryAcquire(caller.user.oid);
    if (!release) {
      options.metrics?.concurrencyRefused.inc({ kind: stream ? 'stream' : 'call' });
      return next(stream ? new TooManyStreamsError(limit.perUser) : new TooManyCallsError(limit.perUser));
    }
    if (stream) options.metrics?.openStreams.inc();
    const controller = new AbortController();
    let credentialEnded = false;
    let tunnel: Duplex | undefined;
    const recheck =
      stream && caller.stillValid
        ? setInterval(() => {
            // A store that does not answer ends nothing: new calls fail closed, streams carry on.
            caller.stillValid!().then(
              (live) => {
                if (live || credentialEnded) return;
                credentialEnded = true;
                aborted = true;
                controller.abort();
                tunnel?.destroy();
                upgrade?.socket.destroy();
                res.destroy();
              },
              () => undefined,
            );
          }, CREDENTIAL_RECHECK_MS)
        : undefined;
    recheck?.unref();
    // One listener for both: a response already carries many (pipeline, logging, server).
    res.once('close', () => {
      clearInterval(recheck);
      release();
      if (stream) options.metrics?.openStreams.dec();
      // The client went away (closed tab, ended watch, ended exec): stop the upstream call too.
      if (!res.writableFinished) {
        aborted = true;
        controller.abort();
      }
    });

    const finish = () => {
      options.metrics?.kubeCalls.inc({ verb: attrs.verb, code: String(status || 'error') });
      options.audit.record({
        user: caller.user.username,
        oid: caller.user.oid,
        via: caller.via,
        ...(caller.credentialId !== undefined ? { credentialId: caller.credentialId } : {}),
        ...attrs,
        status,
        requestId: req.id,
        durationMs: Date.now() - started,
        path,
        ...(aborted ? { aborted: true } : {}),
        ...(credentialEnded ? { credentialEnded: true } : {}),
      });
    };

    let token: string;
    try {
      token = await beforeDeadline(caller.token(), deadline, 'getting a token for the cluster');
    } catch (error) {
      return next(error);
    }

    const headers: Record<string, string | string[]> = {};
    for (const name of upgrade
      ? [...KUBE_REQUEST_HEADERS, ...WEBSOCKET_REQUEST_HEADERS]
      : KUBE_REQUEST_HEADERS) {
      const value = req.headers[name];
      if (value !== undefined) headers[name] = value;
    }
    if (upgrade) Object.assign(headers, { connection: 'Upgrade', upgrade: 'websocket' });
    const hasBody =
      !upgrade &&
      (req.headers['content-length'] !== undefined || req.headers['transfer-encoding'] !== undefined);

    // An API server that answers before it read the body: the rest is dropped once the answer is out.
    if (hasBody) dropBodyAfterAnswer(req, res);
    let upstream: KubeResponse;
    try {
      upstream = await options.client.request({
        method: req.method,
        path: path + search,
        token,
        headers,
        body: hasBody ? req : undefined,
        stream,
        deadline,
        signal: controller.signal,
      });
    } catch (error) {
      status = error instanceof UpstreamTimeoutError ? 504 : 502;
      finish();
      return next(error);
    }
    status = upstream.statusCode ?? 502;
    if (upstream.switched) {
      const { socket } = upstream.switched;
      tunnel = socket;
      if (!upgrade || upgrade.socket.destroyed || credentialEnded) {
        socket.destroy();
        aborted = true;
        return finish();
      }
      upgrade.socket.write(switchingProtocols(pick(upstream.headers, WEBSOCKET_RESPONSE_HEADERS)));
      await splice(upgrade.socket, upgrade.head, socket, upstream.switched.head);
      return finish();
    }
    res.writeHead(status, responseHeaders(upstream));
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

function pick(headers: IncomingHttpHeaders, names: readonly string[]): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const name of names) {
    const value = headers[name];
    if (value !== undefined) out[name] = value;
  }
  return out;
}

/** Listed upstream headers only; then the broker's own, last, so nothing upstream can replace them. */
function responseHeaders(upstream: IncomingMessage): OutgoingHttpHeaders {
  const headers: Record<string, string | string[]> = {};
  for (const name of KUBE_RESPONSE_HEADERS) {
    const value = upstream.headers[name];
    if (value !== undefined) headers[name] = value;
  }
  headers['cache-control'] = 'no-store';
  // Not the API's own data (a pod's web page, logs, an aggregated API's HTML): a download, never a page.
  if (!isApiMediaType(upstream.headers['content-type'])) headers['content-disposition'] = 'attachment';
  Object.assign(headers, SECURITY_HEADERS);
  headers['content-security-policy'] = KUBE_RESPONSE_CSP;
  return headers;
}
