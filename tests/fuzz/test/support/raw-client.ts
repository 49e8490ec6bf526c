// A deliberately dumb HTTP/1.1 client on a bare socket: it writes the exact bytes it is given (odd
// targets, duplicated or malformed headers, broken framing) and reads one response, because undici
// and fetch refuse or normalise exactly the requests worth fuzzing.
import net from 'node:net';

export interface ParsedResponse {
  status: number;
  reason: string;
  headers: Array<[string, string]>;
  body: Buffer;
  /** The connection ended before the body the headers announced was complete. */
  truncated: boolean;
}

export type Outcome =
  | { kind: 'response'; response: ParsedResponse }
  /** The server closed or reset the connection without a response. */
  | { kind: 'closed'; detail: string }
  | { kind: 'timeout'; detail?: string };

const HEAD_END = Buffer.from('\r\n\r\n');
const CRLF = Buffer.from('\r\n');

/** Incremental response parser: feed bytes, ask whether the response is complete. */
export class ResponseParser {
  private buffer: Buffer = Buffer.alloc(0);
  private head: { status: number; reason: string; headers: Array<[string, string]> } | undefined;
  private mode: 'none' | 'length' | 'chunked' | 'close' = 'close';
  private remaining = 0;
  private readonly body: Buffer[] = [];
  private done = false;

  constructor(
    private readonly requestMethod: string,
    private readonly maxBodyBytes = 4 * 1024 * 1024,
  ) {}

  /** Returns true once a complete final response has been read. */
  feed(chunk: Buffer): boolean {
    if (this.done) return true;
    this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
    for (;;) {
      if (this.head === undefined) {
        const end = this.buffer.indexOf(HEAD_END);
        if (end === -1) return false;
        const text = this.buffer.subarray(0, end).toString('latin1');
        this.buffer = this.buffer.subarray(end + 4);
        const [statusLine = '', ...headerLines] = text.split('\r\n');
        const match = /^HTTP\/\d\.\d (\d{3})(?: (.*))?$/.exec(statusLine);
        if (!match) throw new Error(`not an HTTP response: ${JSON.stringify(statusLine.slice(0, 200))}`);
        const status = Number(match[1]);
        const headers = headerLines.map((line): [string, string] => {
          const colon = line.indexOf(':');
          return [line.slice(0, colon).toLowerCase(), line.slice(colon + 1).trim()];
        });
        // Interim responses (100 Continue, 103 Early Hints) precede the real one.
        if (status >= 100 && status < 200 && status !== 101) continue;
        this.head = { status, reason: match[2] ?? '', headers };
        const te = headers.find(([k]) => k === 'transfer-encoding')?.[1];
        const cl = headers.find(([k]) => k === 'content-length')?.[1];
        if (this.requestMethod === 'HEAD' || status === 204 || status === 304 || status === 101) {
          this.mode = 'none';
        } else if (te !== undefined && /chunked\s*$/i.test(te)) {
          this.mode = 'chunked';
          this.remaining = -1;
        } else if (cl !== undefined) {
          this.mode = 'length';
          this.remaining = Number(cl);
        } else {
          this.mode = 'close';
        }
      }
      return this.readBody();
    }
  }

  private readBody(): boolean {
    switch (this.mode) {
      case 'none':
        this.done = true;
        return true;
      case 'length': {
        const take = Math.min(this.remaining, this.buffer.length);
        this.keep(this.buffer.subarray(0, take));
        this.buffer = this.buffer.subarray(take);
        this.remaining -= take;
        this.done = this.remaining === 0;
        return this.done;
      }
      case 'chunked':
        for (;;) {
          if (this.remaining === -1) {
            const eol = this.buffer.indexOf(CRLF);
            if (eol === -1) return false;
            const size = parseInt(this.buffer.subarray(0, eol).toString('latin1').split(';')[0]!, 16);
            if (Number.isNaN(size)) throw new Error('bad chunk size in response');
            this.buffer = this.buffer.subarray(eol + 2);
            if (size === 0) {
              // Trailers, then an empty line.
              const end = this.buffer.indexOf(CRLF);
              if (end === -1) return false;
              if (end === 0) {
                this.done = true;
                return true;
              }
              const trailersEnd = this.buffer.indexOf(HEAD_END);
              if (trailersEnd === -1) return false;
              this.done = true;
              return true;
            }
            this.remaining = size;
          }
          if (this.buffer.length < this.remaining + 2) return false;
          this.keep(this.buffer.subarray(0, this.remaining));
          this.buffer = this.buffer.subarray(this.remaining + 2);
          this.remaining = -1;
        }
      case 'close':
        this.keep(this.buffer);
        this.buffer = Buffer.alloc(0);
        return false;
    }
  }

  private keep(data: Buffer): void {
    const held = this.body.reduce((n, b) => n + b.length, 0);
    if (held < this.maxBodyBytes) this.body.push(Buffer.from(data.subarray(0, this.maxBodyBytes - held)));
  }

  /** What was read, once the connection ended (or the response completed). */
  result(): ParsedResponse | undefined {
    if (this.head === undefined) return undefined;
    return {
      ...this.head,
      body: Buffer.concat(this.body),
      truncated: !this.done && this.mode !== 'close',
    };
  }
}

export interface RawSendOptions {
  port: number;
  host?: string;
  method: string;
  /** Half-close after writing: for requests whose framing never ends on its own. */
  halfClose: boolean;
  timeoutMs: number;
  /**
   * Idle connections to reuse. Only a `reusable` request may take one or give its connection back
   * (after a complete response that does not close it): a stray byte would desynchronise the next.
   */
  pool?: RawPool;
  /** Well framed, and nothing that changes the connection's state (see the sender). */
  reusable?: boolean;
  /** Names the request in diagnostics (a reused connection tells which request it served before). */
  label?: string;
}

type LabelledSocket = net.Socket & { dropFromPool?: () => void; servedBefore?: string };

/** Keep-alive connections of the raw client (a fresh TCP connection per request cost more CPU than the request). */
export class RawPool {
  private readonly idle: net.Socket[] = [];

  take(): net.Socket | undefined {
    for (;;) {
      const socket = this.idle.pop();
      if (socket === undefined) return undefined;
      (socket as LabelledSocket).dropFromPool?.();
      if (!socket.destroyed && socket.readyState === 'open') return socket;
    }
  }

  give(socket: net.Socket): void {
    const drop = () => {
      socket.off('close', drop).off('error', drop).off('data', drop).off('end', drop);
      socket.destroy();
      const at = this.idle.indexOf(socket);
      if (at !== -1) this.idle.splice(at, 1);
    };
    // Anything from an idle connection (a late byte, the server closing it) retires it.
    socket.on('close', drop).on('error', drop).on('data', drop).on('end', drop);
    (socket as LabelledSocket).dropFromPool = () => {
      socket.off('close', drop).off('error', drop).off('data', drop).off('end', drop);
    };
    this.idle.push(socket);
  }

  close(): void {
    for (const socket of this.idle.splice(0)) socket.destroy();
  }
}

/** Writes `bytes` and reads one response. Never rejects. */
export async function sendRaw(bytes: Buffer, options: RawSendOptions): Promise<Outcome> {
  const reused = options.pool && options.reusable ? options.pool.take() : undefined;
  if (reused !== undefined) {
    const outcome = await exchangeOn(reused, bytes, options, true);
    // The server closed the idle connection as we reused it: nothing was read, send it afresh.
    if (outcome !== 'stale') return outcome;
  }
  const socket = net.connect({ port: options.port, host: options.host ?? '127.0.0.1', noDelay: true });
  const outcome = await exchangeOn(socket, bytes, options, false);
  return outcome === 'stale' ? { kind: 'closed', detail: 'closed before any byte' } : outcome;
}

function exchangeOn(
  socket: net.Socket,
  bytes: Buffer,
  options: RawSendOptions,
  reused: boolean,
): Promise<Outcome | 'stale'> {
  return new Promise((resolve) => {
    const parser = new ResponseParser(options.method);
    let settled = false;
    let received = false;
    let lastError = '';
    const finish = (outcome: Outcome | 'stale', keep = false) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.off('data', onData).off('error', onError).off('close', onClose).off('connect', write);
      (socket as LabelledSocket).servedBefore = `${options.label} (${headSummary(bytes)}) -> ${
        outcome === 'stale' ? 'stale' : outcome.kind === 'response' ? outcome.response.status : outcome.kind
      }`;
      if (keep && options.pool) options.pool.give(socket);
      else socket.destroy();
      resolve(outcome);
    };
    const fromWhatWasRead = (detail: string): Outcome | 'stale' => {
      const response = parser.result();
      if (response) return { kind: 'response', response };
      return reused && !received ? 'stale' : { kind: 'closed', detail };
    };
    const timer = setTimeout(
      () =>
        finish({
          kind: 'timeout',
          detail: `${reused ? `connection reused after ${(socket as LabelledSocket).servedBefore ?? '?'}` : 'new connection'}, ${socket.bytesWritten} bytes written in all (this request ${bytes.length}), ${received ? 'a partial answer' : 'nothing'} read`,
        }),
      options.timeoutMs,
    );
    const write = () => {
      socket.write(bytes);
      if (options.halfClose) socket.end();
    };
    const onData = (chunk: Buffer) => {
      received = true;
      let complete: boolean;
      try {
        complete = parser.feed(chunk);
      } catch (err) {
        finish({ kind: 'closed', detail: `unparseable response: ${(err as Error).message}` });
        return;
      }
      if (!complete) return;
      const response = parser.result()!;
      const closes = response.headers.some(([k, v]) => k === 'connection' && /close/i.test(v));
      finish(
        { kind: 'response', response },
        options.reusable === true && !closes && !response.truncated && response.status !== 101,
      );
    };
    // A server that answers early (400, 431) and closes makes our write fail: what it sent still counts.
    const onError = (err: NodeJS.ErrnoException) => (lastError = err.code ?? err.message);
    const onClose = () => finish(fromWhatWasRead(lastError || 'closed'));
    socket.on('data', onData).on('error', onError).on('close', onClose);
    if (reused) write();
    else socket.once('connect', write);
  });
}

/** Request line and header names of a request (values left out: they can be kilobytes). */
function headSummary(bytes: Buffer): string {
  const head = bytes.toString('latin1', 0, Math.min(bytes.length, 64 * 1024)).split('\r\n\r\n')[0] ?? '';
  const [line = '', ...headers] = head.split('\r\n');
  return [line.slice(0, 120), ...headers.map((h) => h.slice(0, h.indexOf(':') + 1 || 30))].join(' | ');
}
