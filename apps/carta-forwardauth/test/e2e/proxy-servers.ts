// The pieces around the sidecar in the proxy tests: the README's snippets (read from the README, so
// the tests cannot drift from it), real nginx and Caddy (Debian's packages) running them, and a
// CARTA stand-in behind them that reports the headers it received, over HTTP and a WebSocket.
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '@auth-sidecars/testkit/prometheus';

export const README = join(import.meta.dirname, '..', '..', 'README.md');
export const NGINX_BINARY = '/usr/sbin/nginx';
export const CADDY_BINARY = '/usr/bin/caddy';

/** The addresses the README's snippets name; the tests replace these and nothing else. */
export const PLACEHOLDERS = {
  sidecar: 'carta-forwardauth.skaha-system.svc:8000',
  backend: 'carta-backend',
  site: 'carta.example.org',
} as const;

/** The body of a `## ` or `### ` section of the README, up to the next heading of any level <= 3. */
export function readmeSection(title: string, text = readFileSync(README, 'utf8')): string {
  const lines = text.split('\n');
  // `# ` inside a fenced block is a comment, not a heading
  let fenced = false;
  const heading = lines.map((l) => {
    if (l.startsWith('```')) fenced = !fenced;
    return !fenced && /^#{1,3} /.test(l);
  });
  const start = lines.findIndex((l, i) => heading[i] && l.replace(/^#+ /, '') === title);
  if (start === -1) throw new Error(`README has no section "${title}"`);
  const end = heading.findIndex((h, i) => h && i > start);
  return lines.slice(start + 1, end === -1 ? undefined : end).join('\n');
}

/** Every fenced code block of `language` in `markdown`, in order. */
export function codeBlocks(markdown: string, language: string): string[] {
  const blocks: string[] = [];
  const fence = new RegExp('^```' + language + '\\n([\\s\\S]*?)^```$', 'gm');
  for (const m of markdown.matchAll(fence)) blocks.push(m[1]!);
  return blocks;
}

/** Replaces each `from` (which must occur at least once) by `to`. */
export function substitute(text: string, pairs: Array<[string, string]>): string {
  let out = text;
  for (const [from, to] of pairs) {
    if (!out.includes(from)) throw new Error(`snippet no longer names ${from}:\n${text}`);
    out = out.split(from).join(to);
  }
  return out;
}

export interface Running {
  url: string;
  close(): Promise<void>;
}

// ----------------------------------------------------------------------------- the CARTA stand-in

export interface SeenRequest {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
}

export interface Backend extends Running {
  /** Every request that reached it (HTTP and WebSocket handshakes). */
  seen: SeenRequest[];
}

const WS_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

/**
 * Answers HTTP with the request's method, URL and headers as JSON, and WebSocket upgrades
 * (RFC 6455) by sending those as a first text message, then echoing text messages and the close.
 */
export async function startBackend(): Promise<Backend> {
  const seen: SeenRequest[] = [];
  const sockets = new Set<Socket>();
  const server = createServer((req, res) => {
    const entry = { method: req.method ?? '', url: req.url ?? '', headers: req.headers };
    seen.push(entry);
    const body = JSON.stringify(entry);
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  });
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  server.on('upgrade', (req, socket: Socket) => {
    const entry = { method: req.method ?? '', url: req.url ?? '', headers: req.headers };
    seen.push(entry);
    const key = req.headers['sec-websocket-key'];
    if (req.headers.upgrade?.toLowerCase() !== 'websocket' || typeof key !== 'string') {
      socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\n\r\n');
      return;
    }
    const accept = createHash('sha1')
      .update(key + WS_GUID)
      .digest('base64');
    socket.write(
      'HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: Upgrade\r\n' +
        `sec-websocket-accept: ${accept}\r\n\r\n`,
    );
    socket.write(frame(0x1, Buffer.from(JSON.stringify(entry))));
    let pending = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      pending = Buffer.concat([pending, chunk]);
      for (;;) {
        const parsed = parseFrame(pending);
        if (!parsed) break;
        pending = pending.subarray(parsed.length);
        if (parsed.opcode === 0x8) {
          socket.end(frame(0x8, parsed.payload));
          return;
        }
        if (parsed.opcode === 0x9) socket.write(frame(0xa, parsed.payload));
        else if (parsed.opcode === 0x1) socket.write(frame(0x1, Buffer.from(`echo:${parsed.payload}`)));
      }
    });
    socket.on('error', () => socket.destroy());
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    seen,
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

/** A server frame (never masked), FIN set. */
function frame(opcode: number, payload: Buffer): Buffer {
  const head =
    payload.length < 126
      ? Buffer.from([0x80 | opcode, payload.length])
      : Buffer.from([0x80 | opcode, 126, payload.length >> 8, payload.length & 0xff]);
  return Buffer.concat([head, payload]);
}

/** A client frame (masked, as RFC 6455 requires), or undefined while incomplete. */
function parseFrame(buf: Buffer): { opcode: number; payload: Buffer; length: number } | undefined {
  if (buf.length < 2) return undefined;
  const opcode = buf[0]! & 0x0f;
  const masked = (buf[1]! & 0x80) !== 0;
  let len = buf[1]! & 0x7f;
  let offset = 2;
  if (len === 126) {
    if (buf.length < 4) return undefined;
    len = buf.readUInt16BE(2);
    offset = 4;
  } else if (len === 127) {
    if (buf.length < 10) return undefined;
    len = Number(buf.readBigUInt64BE(2));
    offset = 10;
  }
  const maskLen = masked ? 4 : 0;
  if (buf.length < offset + maskLen + len) return undefined;
  const payload = Buffer.from(buf.subarray(offset + maskLen, offset + maskLen + len));
  if (masked) {
    const mask = buf.subarray(offset, offset + 4);
    for (let i = 0; i < payload.length; i++) payload[i] = payload[i]! ^ mask[i % 4]!;
  }
  return { opcode, payload, length: offset + maskLen + len };
}

// ------------------------------------------------------------------------------- real proxies

async function waitForPort(url: string, child: ChildProcess, output: () => string): Promise<void> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null)
      throw new Error(`${child.spawnfile} exited before listening:\n${output()}`);
    if (Date.now() > deadline) throw new Error(`${child.spawnfile} not listening on ${url}:\n${output()}`);
    try {
      await fetch(url, { signal: AbortSignal.timeout(2_000) });
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

function launch(binary: string, args: string[], env: NodeJS.ProcessEnv = process.env) {
  const child = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'], env });
  let output = '';
  for (const s of [child.stdout!, child.stderr!]) s.on('data', (c: Buffer) => (output += c.toString('utf8')));
  const exited = once(child, 'exit');
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
    }
  };
  return { child, output: () => output, stop };
}

/**
 * nginx with the README's two blocks: `httpContext` in `http {}`, `serverContext` in the server
 * that listens on a free loopback port, `upstream carta-backend` pointing at the stand-in.
 */
export async function startNginx(
  httpContext: string,
  serverContext: string,
  backend: string,
): Promise<Running & { errorLog(): Promise<string> }> {
  const prefix = await mkdtemp(join(tmpdir(), 'carta-nginx-'));
  await mkdir(join(prefix, 'logs'));
  await mkdir(join(prefix, 'temp'));
  const port = await freePort();
  const errorLog = join(prefix, 'logs', 'error.log');
  const conf = [
    process.getuid?.() === 0 ? 'user root;' : '',
    'worker_processes 1;',
    `pid ${join(prefix, 'nginx.pid')};`,
    `error_log ${errorLog} warn;`,
    'events { worker_connections 256; }',
    'http {',
    '  access_log off;',
    ...['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map(
      (t) => `  ${t}_temp_path ${join(prefix, 'temp', t)};`,
    ),
    httpContext,
    `  upstream ${PLACEHOLDERS.backend} { server ${new URL(backend).host}; }`,
    '  server {',
    `    listen 127.0.0.1:${port};`,
    serverContext,
    '  }',
    '}',
    '',
  ].join('\n');
  const confPath = join(prefix, 'nginx.conf');
  await writeFile(confPath, conf);
  const proc = launch(NGINX_BINARY, ['-p', prefix, '-c', confPath, '-e', errorLog, '-g', 'daemon off;']);
  const url = `http://127.0.0.1:${port}`;
  const close = async () => {
    await proc.stop();
    await rm(prefix, { recursive: true, force: true });
  };
  try {
    await waitForPort(url, proc.child, () => `${proc.output()}\n${conf}`);
  } catch (err) {
    await close();
    throw err;
  }
  return { url, close, errorLog: () => readFile(errorLog, 'utf8').catch(() => '') };
}

/** Caddy with the README's Caddyfile, its site address moved to a free loopback port. */
export async function startCaddy(siteBlock: string, site: string): Promise<Running & { output(): string }> {
  const home = await mkdtemp(join(tmpdir(), 'carta-caddy-'));
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  // admin off: no admin listener on :2019 (tests run side by side); no automatic HTTPS on loopback.
  const caddyfile = [
    '{',
    '\tadmin off',
    '\tauto_https off',
    '}',
    '',
    substitute(siteBlock, [[site, url]]),
  ].join('\n');
  const path = join(home, 'Caddyfile');
  await writeFile(path, caddyfile);
  const proc = launch(CADDY_BINARY, ['run', '--config', path, '--adapter', 'caddyfile'], {
    ...process.env,
    HOME: home,
    XDG_DATA_HOME: join(home, 'data'),
    XDG_CONFIG_HOME: join(home, 'config'),
  });
  const close = async () => {
    await proc.stop();
    await rm(home, { recursive: true, force: true });
  };
  try {
    await waitForPort(url, proc.child, () => `${proc.output()}\n${caddyfile}`);
  } catch (err) {
    await close();
    throw err;
  }
  return { url, close, output: proc.output };
}

// ------------------------------------------------------------------------------- WebSocket client

export interface WsResult {
  opened: boolean;
  /** The stand-in's first message: what it received on the handshake. */
  hello?: SeenRequest;
  echo?: string;
}

/** Opens a WebSocket (Node's built-in client), reads the hello, sends one message, closes. */
export function websocketRoundTrip(url: string, message: string, timeoutMs = 10_000): Promise<WsResult> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    const result: WsResult = { opened: false };
    const timer = setTimeout(() => {
      ws.close();
      reject(new Error(`WebSocket ${url}: no answer within ${timeoutMs} ms`));
    }, timeoutMs);
    ws.addEventListener('open', () => (result.opened = true));
    ws.addEventListener('message', (event) => {
      const data = String(event.data);
      if (!result.hello) {
        result.hello = JSON.parse(data) as SeenRequest;
        ws.send(message);
      } else {
        result.echo = data;
        ws.close(1000, 'done');
      }
    });
    ws.addEventListener('error', () => {
      /* a refused handshake: 'close' follows */
    });
    ws.addEventListener('close', () => {
      clearTimeout(timer);
      resolve(result);
    });
  });
}
