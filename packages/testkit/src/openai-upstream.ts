// OpenAI-compatible upstream stand-in for openai-proxy tests and benchmarks: it checks the bearer JWT
// like Azure OpenAI would, and serves chat completions (JSON and SSE with controlled timing), a 429
// with rate-limit headers, an upload sink that counts bytes, a header echo, slow/stalling paths, and
// a Realtime-style WebSocket echo (`.../realtime`) behind the same token check.
import { createHash } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { createLocalJWKSet, jwtVerify, type JSONWebKeySet, type JWTPayload } from 'jose';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';

/** Throws when the token is not acceptable; resolves with its claims otherwise. */
export type TokenVerifier = (token: string) => Promise<JWTPayload>;

export interface JwksVerifierOptions {
  /** e.g. `${devEntra.url}/${tenant}/discovery/v2.0/keys` */
  jwksUrl: string;
  audience: string | string[];
  issuer?: string;
  /** CA for an HTTPS JWKS endpoint (dev-entra's caPem). */
  caPem?: string;
}

/**
 * Verifies RS256 JWTs against a JWKS URL with jose. Verified tokens are remembered until they
 * expire, so a benchmark measures the proxy, not the stand-in's signature checks.
 */
export function jwksVerifier(options: JwksVerifierOptions): TokenVerifier {
  let keys: ReturnType<typeof createLocalJWKSet> | undefined;
  const verified = new Map<string, JWTPayload>();
  const load = async () => {
    keys = createLocalJWKSet((await getJson(options.jwksUrl, options.caPem)) as JSONWebKeySet);
    return keys;
  };
  const verifyWith = async (k: ReturnType<typeof createLocalJWKSet>, token: string) =>
    (await jwtVerify(token, k, { audience: options.audience, issuer: options.issuer, algorithms: ['RS256'] }))
      .payload;
  return async (token) => {
    const seen = verified.get(token);
    if (seen !== undefined && (seen.exp ?? 0) * 1000 > Date.now()) return seen;
    let payload: JWTPayload;
    try {
      payload = await verifyWith(keys ?? (await load()), token);
    } catch (err) {
      // A key we have not seen yet (rotation): fetch the set once more.
      if ((err as { code?: string }).code !== 'ERR_JWKS_NO_MATCHING_KEY') throw err;
      payload = await verifyWith(await load(), token);
    }
    if (verified.size > 1000) verified.clear();
    verified.set(token, payload);
    return payload;
  };
}

function getJson(url: string, caPem?: string): Promise<unknown> {
  const get = url.startsWith('https:') ? https.get : http.get;
  return new Promise((resolve, reject) => {
    get(url, caPem === undefined ? {} : { ca: caPem }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        if ((res.statusCode ?? 0) >= 400) reject(new Error(`GET ${url}: ${res.statusCode}`));
        else resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')));
      });
      res.on('error', reject);
    }).on('error', reject);
  });
}

export interface ScriptedResponse {
  status: number;
  headers?: Record<string, string>;
  body?: string;
}

export interface RecordedRequest {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  token?: string;
  claims?: JWTPayload;
  status: number;
}

/** One WebSocket session of the echo, as the upstream saw it. */
export interface RecordedWebSocket {
  url: string;
  /** Headers of the upgrade request (after the proxy). */
  headers: http.IncomingHttpHeaders;
  claims?: JWTPayload;
  /** Subprotocol the upstream selected ('' for none). */
  protocol: string;
  /** Messages received, in order. */
  received: Array<{ data: Buffer; binary: boolean }>;
  /** Set when the session ended: the close code and reason the upstream received (or sent, when it closed first). */
  closed?: { code: number; reason: string; by: 'client' | 'upstream' };
}

export interface OpenAiUpstreamOptions {
  /** Bearer check; `false` accepts any request (for tests of the stand-in itself). */
  verify: TokenVerifier | false;
  /** SSE chunk contents of a streamed chat completion. */
  streamChunks?: string[];
  /** Delay between SSE chunks (ms). */
  chunkIntervalMs?: number;
  /** Keep at most this many recorded requests (benchmarks set 0). */
  recordLimit?: number;
  /** Listen address (default 127.0.0.1) and port (default 0, ephemeral): the demo CLI sets them. */
  host?: string;
  port?: number;
}

export interface OpenAiUpstream {
  url: string;
  close(): Promise<void>;
  /** Requests as the upstream saw them (after the proxy). */
  requests: RecordedRequest[];
  /** Responses served before the normal handling, in order (e.g. a 429 or a 500). */
  scriptNext(...responses: ScriptedResponse[]): void;
  /** Every token seen so far is refused with 401 from now on (a revoked or stale token). */
  revokeSeenTokens(): void;
  /** Time (performance.now ms) each SSE chunk of the last stream was written. */
  lastStreamSendTimes: number[];
  /** Bytes received by the upload sink, per request. */
  uploads: number[];
  /** Bytes the upload sink has received so far in the upload in progress (0 between uploads). */
  uploadReceiving(): number;
  /** Requests currently being served (open streams included). */
  inFlight(): number;
  setStreamTiming(intervalMs: number, chunks?: string[]): void;
  /** WebSocket sessions of the realtime echo, in order of their upgrade. */
  webSockets: RecordedWebSocket[];
}

export const OPENAI_UPSTREAM_PATHS = Object.freeze({
  chat: /\/chat\/completions$/,
  models: '/v1/models',
  echoPrefix: '/echo',
  upload: '/upload',
  slowHeaders: '/slow-headers',
  stallBody: '/stall-body',
  /**
   * WebSocket upgrades (Azure OpenAI's `/openai/realtime`, `/openai/v1/realtime`): every message is
   * echoed with its type; the text message `close <code> <reason>` makes the upstream close first.
   */
  realtime: /\/realtime$/,
});

const CLOSE_COMMAND = /^close (\d{4})(?: (.*))?$/;

const DEFAULT_CHUNKS = ['Hel', 'lo', ' from', ' the', ' stand', '-in', '.'];

export async function startOpenAiUpstream(options: OpenAiUpstreamOptions): Promise<OpenAiUpstream> {
  const requests: RecordedRequest[] = [];
  const recordLimit = options.recordLimit ?? 10_000;
  const scripted: ScriptedResponse[] = [];
  const revoked = new Set<string>();
  const seenTokens = new Set<string>();
  const uploads: number[] = [];
  let uploadReceiving = 0;
  let chunks = options.streamChunks ?? DEFAULT_CHUNKS;
  let intervalMs = options.chunkIntervalMs ?? 50;
  let inFlight = 0;
  const state = { lastStreamSendTimes: [] as number[] };
  const modelsBody = JSON.stringify({
    object: 'list',
    data: [{ id: 'gpt-4o-mini', object: 'model', created: 0, owned_by: 'stand-in' }],
  });

  const record = (req: http.IncomingMessage, status: number, token?: string, claims?: JWTPayload) => {
    if (requests.length < recordLimit) {
      requests.push({
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        token,
        claims,
        status,
      });
    }
  };

  const json = (
    res: http.ServerResponse,
    status: number,
    body: unknown,
    headers: Record<string, string> = {},
  ) => {
    const text = typeof body === 'string' ? body : JSON.stringify(body);
    res.writeHead(status, {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(text),
      ...headers,
    });
    res.end(text);
  };

  const handle = async (req: http.IncomingMessage, res: http.ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://upstream');
    const path = url.pathname;
    let token: string | undefined;
    let claims: JWTPayload | undefined;
    if (options.verify !== false) {
      const auth = req.headers.authorization;
      token = auth?.startsWith('Bearer ') ? auth.slice(7) : undefined;
      try {
        if (token === undefined) throw new Error('no bearer token');
        if (revoked.has(token)) throw new Error('token revoked');
        claims = await options.verify(token);
        seenTokens.add(token);
      } catch (err) {
        record(req, 401, token);
        req.resume();
        json(
          res,
          401,
          { error: { code: '401', message: `Access denied: ${(err as Error).message}` } },
          { 'www-authenticate': 'Bearer error="invalid_token"' },
        );
        return;
      }
    }

    const next = scripted.shift();
    if (next !== undefined) {
      record(req, next.status, token, claims);
      req.resume();
      json(
        res,
        next.status,
        next.body ?? { error: { code: String(next.status), message: 'scripted' } },
        next.headers,
      );
      return;
    }

    if (path === OPENAI_UPSTREAM_PATHS.models) {
      record(req, 200, token, claims);
      req.resume();
      res.writeHead(200, {
        'content-type': 'application/json',
        'content-length': Buffer.byteLength(modelsBody),
      });
      res.end(modelsBody);
      return;
    }

    if (path === OPENAI_UPSTREAM_PATHS.upload) {
      const hash = createHash('sha256');
      let bytes = 0;
      req.on('data', (c: Buffer) => {
        bytes += c.length;
        uploadReceiving = bytes;
        hash.update(c);
      });
      req.on('end', () => {
        uploadReceiving = 0;
        uploads.push(bytes);
        record(req, 200, token, claims);
        json(res, 200, { bytes, sha256: hash.digest('hex') });
      });
      return;
    }

    if (path.startsWith(OPENAI_UPSTREAM_PATHS.echoPrefix)) {
      const body = await readBody(req);
      record(req, 200, token, claims);
      json(res, 200, {
        method: req.method,
        url: req.url,
        headers: req.headers,
        rawHeaders: req.rawHeaders,
        body: body.toString('utf8'),
      });
      return;
    }

    if (path === OPENAI_UPSTREAM_PATHS.slowHeaders) {
      const delay = Number(url.searchParams.get('ms') ?? '1000');
      req.resume();
      record(req, 200, token, claims);
      setTimeout(() => json(res, 200, { delayed: delay }), delay).unref();
      return;
    }

    if (path === OPENAI_UPSTREAM_PATHS.stallBody) {
      req.resume();
      record(req, 200, token, claims);
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('partial ');
      // Never ends: the proxy's idle timeout must cut it.
      return;
    }

    if (OPENAI_UPSTREAM_PATHS.chat.test(path) && req.method === 'POST') {
      const raw = await readBody(req);
      let body: { model?: string; stream?: boolean };
      try {
        body = JSON.parse(raw.toString('utf8')) as typeof body;
      } catch {
        record(req, 400, token, claims);
        json(res, 400, { error: { code: 'invalid_json', message: 'body is not JSON' } });
        return;
      }
      record(req, 200, token, claims);
      const model = body.model ?? 'gpt-4o-mini';
      const id = `chatcmpl-${Math.random().toString(36).slice(2, 10)}`;
      const created = Math.floor(Date.now() / 1000);
      if (body.stream !== true) {
        json(res, 200, {
          id,
          object: 'chat.completion',
          created,
          model,
          choices: [
            {
              index: 0,
              message: { role: 'assistant', content: chunks.join(''), refusal: null },
              logprobs: null,
              finish_reason: 'stop',
            },
          ],
          usage: { prompt_tokens: 5, completion_tokens: chunks.length, total_tokens: 5 + chunks.length },
        });
        return;
      }
      await streamChat(res, { id, created, model });
      return;
    }

    record(req, 404, token, claims);
    req.resume();
    json(res, 404, { error: { code: 'NotFound', message: `no route for ${req.method} ${path}` } });
  };

  const streamChat = async (
    res: http.ServerResponse,
    meta: { id: string; created: number; model: string },
  ) => {
    const times: number[] = [];
    state.lastStreamSendTimes = times;
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    const event = (delta: Record<string, unknown>, finish: string | null) =>
      `data: ${JSON.stringify({ id: meta.id, object: 'chat.completion.chunk', created: meta.created, model: meta.model, choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }] })}\n\n`;
    const closed = new Promise<void>((resolve) => res.once('close', resolve));
    let gone = false;
    void closed.then(() => (gone = true));
    for (let i = 0; i < chunks.length && !gone; i += 1) {
      if (i > 0) await new Promise((resolve) => setTimeout(resolve, intervalMs));
      if (gone) return;
      times.push(performance.now());
      res.write(event(i === 0 ? { role: 'assistant', content: chunks[i] } : { content: chunks[i] }, null));
    }
    if (gone) return;
    res.write(event({}, 'stop'));
    res.end('data: [DONE]\n\n');
  };

  const webSockets: RecordedWebSocket[] = [];
  const wss = new WebSocketServer({ noServer: true });

  const refuseUpgrade = (socket: Duplex, status: number, code: string, message: string) => {
    const body = JSON.stringify({ error: { code, message } });
    socket.end(
      `HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\ncontent-type: application/json\r\n` +
        `content-length: ${Buffer.byteLength(body)}\r\n` +
        (status === 401 ? 'www-authenticate: Bearer error="invalid_token"\r\n' : '') +
        `connection: close\r\n\r\n${body}`,
    );
  };

  const echo = (ws: WebSocket, session: RecordedWebSocket) => {
    ws.on('message', (data: RawData, binary: boolean) => {
      const buf = Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data as ArrayBuffer);
      session.received.push({ data: buf, binary });
      const command = binary ? null : CLOSE_COMMAND.exec(buf.toString('utf8'));
      if (command !== null) {
        session.closed = { code: Number(command[1]), reason: command[2] ?? '', by: 'upstream' };
        ws.close(Number(command[1]), command[2] ?? '');
        return;
      }
      ws.send(buf, { binary });
    });
    ws.on('close', (code: number, reason: Buffer) => {
      session.closed ??= { code, reason: reason.toString('utf8'), by: 'client' };
    });
    ws.on('error', () => undefined);
  };

  const upgrade = async (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => undefined);
    const path = new URL(req.url ?? '/', 'http://upstream').pathname;
    let token: string | undefined;
    let claims: JWTPayload | undefined;
    if (options.verify !== false) {
      const auth = req.headers.authorization;
      token = auth?.startsWith('Bearer ') ? auth.slice(7) : undefined;
      try {
        if (token === undefined) throw new Error('no bearer token');
        if (revoked.has(token)) throw new Error('token revoked');
        claims = await options.verify(token);
        seenTokens.add(token);
      } catch (err) {
        record(req, 401, token);
        refuseUpgrade(socket, 401, '401', `Access denied: ${(err as Error).message}`);
        return;
      }
    }
    if (!OPENAI_UPSTREAM_PATHS.realtime.test(path)) {
      record(req, 404, token, claims);
      refuseUpgrade(socket, 404, 'NotFound', `no WebSocket endpoint at ${path}`);
      return;
    }
    record(req, 101, token, claims);
    wss.handleUpgrade(req, socket, head, (ws) => {
      const session: RecordedWebSocket = {
        url: req.url ?? '',
        headers: req.headers,
        ...(claims === undefined ? {} : { claims }),
        protocol: ws.protocol,
        received: [],
      };
      webSockets.push(session);
      echo(ws, session);
    });
  };

  const server = http.createServer((req, res) => {
    inFlight += 1;
    res.once('close', () => (inFlight -= 1));
    handle(req, res).catch((err: unknown) => {
      if (!res.headersSent) json(res, 500, { error: { code: 'stand_in_error', message: String(err) } });
      else res.destroy();
    });
  });
  server.keepAliveTimeout = 65_000;
  server.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
    upgrade(req, socket, head).catch(() => socket.destroy());
  });
  const host = options.host ?? '127.0.0.1';
  server.listen(options.port ?? 0, host);
  await new Promise<void>((resolve) => server.once('listening', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://${host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host}:${port}`,
    requests,
    uploads,
    uploadReceiving: () => uploadReceiving,
    get lastStreamSendTimes() {
      return state.lastStreamSendTimes;
    },
    scriptNext: (...responses) => scripted.push(...responses),
    revokeSeenTokens: () => {
      for (const t of seenTokens) revoked.add(t);
    },
    inFlight: () => inFlight,
    webSockets,
    setStreamTiming: (ms, newChunks) => {
      intervalMs = ms;
      if (newChunks !== undefined) chunks = newChunks;
    },
    close: () =>
      new Promise<void>((resolve) => {
        // Upgraded sockets are no longer the HTTP server's: end them here.
        for (const ws of wss.clients) ws.terminate();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

function readBody(req: http.IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}
