// Sends generated requests to the running app: through undici (keep-alive pool) when undici can send
// the request exactly as generated, else as raw bytes on a socket. Fills in placeholders first.
import { Pool, errors as undiciErrors } from 'undici';
import { RawPool, sendRaw, type Outcome, type ParsedResponse } from './raw-client.js';
import {
  FUZZ_ID_HEADER,
  REQUEST_ID_HEADER,
  fillPlaceholders,
  toWire,
  wellFramed,
  type RequestSpec,
  type SentRequest,
  type Values,
} from './spec.js';

export interface Exchange {
  request: SentRequest;
  outcome: Outcome;
  ms: number;
}

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
// Header values undici passes through untouched: no control characters, no surrounding whitespace.
// eslint-disable-next-line no-control-regex
const PLAIN_VALUE = /^[^\u0000-\u0008\u000a-\u001f\u007f\u0100-\uffff]*$/;
/** Request headers undici manages itself or refuses; such requests go over a raw socket. */
const UNDICI_OWNED = new Set([
  'connection',
  'transfer-encoding',
  'keep-alive',
  'upgrade',
  'expect',
  'content-length',
]);

export class Sender {
  private readonly pool: Pool;
  private readonly rawPool = new RawPool();
  private readonly port: number;
  private readonly hostHeader: string;
  private nextId: number;
  private nextMarker = 0;

  constructor(
    readonly baseUrl: string,
    private readonly options: { concurrency: number; timeoutMs: number; firstId?: number },
  ) {
    const url = new URL(baseUrl);
    this.port = Number(url.port);
    this.hostHeader = url.host;
    this.nextId = options.firstId ?? 1;
    this.pool = new Pool(url.origin, {
      connections: options.concurrency,
      pipelining: 1,
      keepAliveTimeout: 10_000,
      headersTimeout: options.timeoutMs,
      bodyTimeout: options.timeoutMs,
    });
  }

  get host(): string {
    return this.hostHeader;
  }

  /** Fills in placeholders and adds the fuzz id (and a request id unless the spec sets its own). */
  prepare(spec: RequestSpec, values: Values): SentRequest {
    const id = this.nextId++;
    const markers: string[] = [];
    const newMarker = () => `fzm${id}x${this.nextMarker++}q`;
    const fill = (text: string) => {
      const r = fillPlaceholders(text, values, newMarker);
      markers.push(...r.markers);
      return r.text;
    };
    const headers = spec.headers.map(([k, v]): [string, string] => [fill(k), fill(v)]);
    if (!headers.some(([k]) => k.toLowerCase() === REQUEST_ID_HEADER))
      headers.push([REQUEST_ID_HEADER, `fz-${id}`]);
    headers.push([FUZZ_ID_HEADER, String(id)]);
    const request: SentRequest = {
      id,
      spec,
      method: fill(spec.method),
      target: fill(spec.target),
      headers,
      markers,
      via: 'raw',
    };
    request.via = this.undiciCanSend(request) ? 'undici' : 'raw';
    return request;
  }

  private undiciCanSend(req: SentRequest): boolean {
    const { spec } = req;
    if (spec.transport === 'raw' || spec.version !== 'HTTP/1.1' || spec.lineEnding !== '\r\n') return false;
    if (spec.host.kind === 'none' || spec.host.kind === 'twice') return false;
    if (spec.body.kind !== 'none' && spec.body.kind !== 'length') return false;
    if (!/^[A-Z]+$/.test(req.method) || req.method === 'CONNECT') return false;
    if (!(req.target.startsWith('/') || /^https?:\/\/[^\s]*$/.test(req.target))) return false;
    if (/[^\u0021-\u007e]/.test(req.target)) return false;
    return req.headers.every(
      ([k, v]) =>
        TOKEN.test(k) &&
        !UNDICI_OWNED.has(k.toLowerCase()) &&
        k.toLowerCase() !== 'host' &&
        PLAIN_VALUE.test(v) &&
        v === v.trim(),
    );
  }

  async send(req: SentRequest): Promise<Exchange> {
    const started = performance.now();
    let outcome: Outcome | undefined;
    if (req.via === 'undici') {
      outcome = await this.sendUndici(req);
      // undici validates more than we check up front; what it refuses goes out raw.
      if (outcome === undefined) req.via = 'raw';
    }
    const framed = wellFramed(req.spec);
    outcome ??= await sendRaw(toWire(req, this.hostHeader), {
      port: this.port,
      method: req.method,
      halfClose: !framed,
      // After a request that asked for an upgrade, node:http (24) answers it but then ignores the
      // header size limit on that connection: a later oversized header gets neither 431 nor a close
      // (reported with the fuzz suite). Such a connection is not reused here.
      reusable: framed && !req.headers.some(([k]) => /^\s*upgrade\s*$/i.test(k)),
      timeoutMs: this.options.timeoutMs,
      pool: this.rawPool,
      label: `#${req.id}`,
    });
    return { request: req, outcome, ms: performance.now() - started };
  }

  /** undefined when undici refuses to send the request as it is. */
  private async sendUndici(req: SentRequest): Promise<Outcome | undefined> {
    const headers: string[] = [];
    for (const [k, v] of req.headers) headers.push(k, v);
    if (req.spec.host.kind === 'value') headers.push('Host', req.spec.host.value);
    const body = req.spec.body.kind === 'length' ? Buffer.from(req.spec.body.data) : null;
    let res;
    try {
      res = await this.pool.request({ method: req.method, path: req.target, headers, body });
    } catch (err) {
      if (err instanceof undiciErrors.InvalidArgumentError) return undefined;
      if (err instanceof undiciErrors.HeadersTimeoutError) return { kind: 'timeout' };
      return { kind: 'closed', detail: (err as { code?: string }).code ?? (err as Error).message };
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let truncated = false;
    try {
      for await (const chunk of res.body as AsyncIterable<Buffer>) {
        if (size < 4 * 1024 * 1024) chunks.push(chunk);
        size += chunk.length;
      }
    } catch (err) {
      if (err instanceof undiciErrors.BodyTimeoutError) return { kind: 'timeout' };
      truncated = true;
    }
    const pairs: Array<[string, string]> = [];
    for (const [k, v] of Object.entries(res.headers)) {
      for (const value of Array.isArray(v) ? v : [v ?? '']) pairs.push([k.toLowerCase(), value]);
    }
    const response: ParsedResponse = {
      status: res.statusCode,
      reason: '',
      headers: pairs,
      body: Buffer.concat(chunks),
      truncated,
    };
    return { kind: 'response', response };
  }

  /** Sends every request, `concurrency` at a time; results in request order. */
  async sendAll(requests: SentRequest[]): Promise<Exchange[]> {
    const results: Exchange[] = new Array<Exchange>(requests.length);
    let next = 0;
    const worker = async () => {
      while (next < requests.length) {
        const i = next++;
        results[i] = await this.send(requests[i]!);
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.options.concurrency, requests.length) }, worker));
    return results;
  }

  close(): Promise<void> {
    this.rawPool.close();
    return this.pool.close();
  }
}
