// What a generated request is (before and after its placeholders are filled in) and how it is
// written on the wire. Placeholders (`{{secret}}`, `{{cookie.alice:flip}}`, `{{marker}}`) let
// fast-check generate requests before the values exist: tokens and cookies are only known once the
// app and its stand-ins run, so the sender fills them in at send time.

/** How the request body is framed; the odd kinds exist to attack the server's HTTP parser. */
export type BodySpec =
  | { kind: 'none' }
  /** Content-Length that matches the body. */
  | { kind: 'length'; data: Uint8Array }
  /** Transfer-Encoding: `te` (ends in chunked) with these chunks, optional extension and trailers. */
  | {
      kind: 'chunked';
      te: string;
      chunks: Uint8Array[];
      extension: string;
      trailers: Array<[string, string]>;
    }
  /** A Content-Length header that does not describe the body (garbage, negative, too small, too large). */
  | { kind: 'bad-length'; declared: string; data: Uint8Array }
  /** Both Content-Length and Transfer-Encoding: chunked (request smuggling shape). */
  | { kind: 'length-and-chunked'; data: Uint8Array }
  /** Transfer-Encoding: chunked followed by bytes that are not valid chunking. */
  | { kind: 'bad-chunked'; raw: string }
  /** A Transfer-Encoding that does not end in chunked (gzip, identity, garbage). */
  | { kind: 'te-only'; te: string; data: Uint8Array };

export type HostSpec =
  | { kind: 'default' }
  | { kind: 'none' }
  | { kind: 'value'; value: string }
  | { kind: 'twice'; value: string };

export interface RequestSpec {
  method: string;
  /** Request target exactly as written on the request line. */
  target: string;
  /** HTTP version token of the request line, e.g. HTTP/1.1. */
  version: string;
  host: HostSpec;
  /** In order, names cased as sent, duplicates allowed; values may hold placeholders. */
  headers: Array<[string, string]>;
  body: BodySpec;
  lineEnding: '\r\n' | '\n';
  /** `raw` forces the socket path even when undici could send the request unchanged. */
  transport: 'auto' | 'raw';
}

/** A request as sent: placeholders filled in, ids added. */
export interface SentRequest {
  /** Sequence number of this request in the run; also the `x-fuzz-id` header. */
  id: number;
  spec: RequestSpec;
  method: string;
  target: string;
  headers: Array<[string, string]>;
  /** Every marker placed in this request (credential values that must never come back). */
  markers: string[];
  via: 'raw' | 'undici';
}

export const FUZZ_ID_HEADER = 'x-fuzz-id';
export const REQUEST_ID_HEADER = 'x-request-id';
/** Markers look like `fzm12x3q`: easy to find anywhere with one regular expression. */
export const MARKER_PATTERN = /fzm\d+x\d+/gi;

const PLACEHOLDER = /\{\{([A-Za-z0-9_.-]+)(?::([a-z]+))?\}\}/g;

/** Named values for placeholders; `marker` is special (a fresh value per occurrence). */
export type Values = Readonly<Record<string, string>>;

/** Small, deterministic changes of a credential: the near misses an attacker would try. */
export function mutate(value: string, how: string | undefined): string {
  switch (how) {
    case undefined:
    case '':
      return value;
    case 'upper':
      return value.toUpperCase();
    case 'lower':
      return value.toLowerCase();
    case 'prefix':
      return value.slice(0, Math.max(0, value.length - 1));
    case 'suffix':
      return `${value}x`;
    case 'flip': {
      if (value.length === 0) return 'x';
      const i = Math.floor(value.length / 2);
      const c = value.charCodeAt(i);
      const replacement = c === 0x41 ? 'B' : 'A';
      return value.slice(0, i) + replacement + value.slice(i + 1);
    }
    case 'space':
      return ` ${value} `;
    case 'twice':
      return `${value},${value}`;
    case 'urlenc':
      return [...value].map((ch) => `%${ch.charCodeAt(0).toString(16).padStart(2, '0')}`).join('');
    case 'half':
      return value.slice(0, Math.floor(value.length / 2));
    default:
      return value;
  }
}

export const MUTATIONS = ['upper', 'lower', 'prefix', 'suffix', 'flip', 'space', 'twice', 'urlenc', 'half'];

export function fillPlaceholders(
  text: string,
  values: Values,
  newMarker: () => string,
): { text: string; markers: string[] } {
  const markers: string[] = [];
  const out = text.replace(PLACEHOLDER, (_all, name: string, how: string | undefined) => {
    if (name === 'marker') {
      const m = newMarker();
      markers.push(m);
      return mutate(m, how);
    }
    const base = values[name];
    return mutate(base ?? `missing-${name}`, how);
  });
  return { text: out, markers };
}

export function bodyBytes(body: BodySpec): Uint8Array {
  switch (body.kind) {
    case 'none':
      return new Uint8Array();
    case 'chunked':
      return Buffer.concat(body.chunks);
    case 'bad-chunked':
      return Buffer.from(body.raw, 'latin1');
    default:
      return body.data;
  }
}

/**
 * True when the request's framing is complete and consistent, so the server can read it to its end
 * and must answer: a sound body and no framing header of the generator's own making.
 */
export function wellFramed(spec: RequestSpec): boolean {
  const soundBody = spec.body.kind === 'none' || spec.body.kind === 'length' || spec.body.kind === 'chunked';
  return (
    soundBody &&
    spec.lineEnding === '\r\n' &&
    !spec.headers.some(([k]) => /^\s*(content-length|transfer-encoding)\s*$/i.test(k))
  );
}

/** The request's bytes exactly as the raw client writes them. */
export function toWire(req: SentRequest, hostHeader: string): Buffer {
  const { spec } = req;
  const eol = spec.lineEnding;
  const lines: string[] = [`${req.method} ${req.target} ${spec.version}`];
  switch (spec.host.kind) {
    case 'default':
      lines.push(`Host: ${hostHeader}`);
      break;
    case 'value':
      lines.push(`Host: ${spec.host.value}`);
      break;
    case 'twice':
      lines.push(`Host: ${hostHeader}`, `Host: ${spec.host.value}`);
      break;
    case 'none':
      break;
  }
  for (const [name, value] of req.headers) lines.push(name === '' && value === '' ? '' : `${name}: ${value}`);
  const body = spec.body;
  const parts: Buffer[] = [];
  switch (body.kind) {
    case 'none':
      break;
    case 'length':
      lines.push(`Content-Length: ${body.data.length}`);
      parts.push(Buffer.from(body.data));
      break;
    case 'bad-length':
      lines.push(`Content-Length: ${body.declared}`);
      parts.push(Buffer.from(body.data));
      break;
    case 'te-only':
      lines.push(`Transfer-Encoding: ${body.te}`);
      parts.push(Buffer.from(body.data));
      break;
    case 'length-and-chunked':
      lines.push(`Content-Length: ${body.data.length + 5}`, 'Transfer-Encoding: chunked');
      parts.push(chunk(body.data, '', eol), Buffer.from(`0${eol}${eol}`, 'latin1'));
      break;
    case 'chunked':
      lines.push(`Transfer-Encoding: ${body.te}`);
      for (const c of body.chunks) if (c.length > 0) parts.push(chunk(c, body.extension, eol));
      parts.push(
        Buffer.from(
          `0${body.extension}${eol}${body.trailers.map(([k, v]) => `${k}: ${v}${eol}`).join('')}${eol}`,
        ),
      );
      break;
    case 'bad-chunked':
      lines.push('Transfer-Encoding: chunked');
      parts.push(Buffer.from(body.raw, 'latin1'));
      break;
  }
  const head = Buffer.from(`${lines.join(eol)}${eol}${eol}`, 'latin1');
  return Buffer.concat([head, ...parts]);
}

function chunk(data: Uint8Array, extension: string, eol: string): Buffer {
  return Buffer.concat([
    Buffer.from(`${data.length.toString(16)}${extension}${eol}`, 'latin1'),
    Buffer.from(data),
    Buffer.from(eol, 'latin1'),
  ]);
}

/** A readable one-paragraph rendering of a request (for failure messages and the known-issues list). */
export function describe(req: SentRequest, hostHeader = '127.0.0.1:PORT'): string {
  const wire = toWire(req, hostHeader).toString('latin1');
  const limit = 1500;
  const shown = wire.length > limit ? `${wire.slice(0, limit)}... (${wire.length} bytes in all)` : wire;
  return `#${req.id} via ${req.via}: ${JSON.stringify(shown)}`;
}
