// fast-check arbitraries for hostile HTTP/1.1 requests. Half of what they make is plausible (the
// app's own paths, queries, credentials and bodies, slightly bent), half is wild (odd methods and
// targets, malformed, duplicated and oversized headers, broken framing), so that both the parsers and
// the app's decisions get exercised. Each app contributes its vocabulary.
import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { MUTATIONS, type BodySpec, type HostSpec, type RequestSpec } from './spec.js';

export interface Vocabulary {
  /** Paths the app serves or refuses in an interesting way (no query). */
  paths: string[];
  /** Query strings (without `?`). */
  queries: string[];
  /** Credential values: placeholders such as `{{secret}}` (mutated at random) or literals. */
  credentials: string[];
  /** App-specific headers (values may hold placeholders). */
  headers: Array<[string, string]>;
  /** Request bodies with their content type. */
  bodies: Array<{ contentType: string; body: string }>;
  /** Header names that carry credentials here (beyond Authorization, api-key, Cookie). */
  credentialHeaders?: string[];
  /** Cookie names the app reads. */
  cookieNames?: string[];
  /**
   * Well-formed requests the app really serves (a token request with a secret, a signed-in page):
   * a third of the plausible requests start from one of these and are bent a little, so that the
   * app's decisions are exercised, not only its refusals.
   */
  exemplars?: fc.Arbitrary<Exemplar>;
}

export interface Exemplar {
  method: string;
  target: string;
  /** Values may hold placeholders. */
  headers: Array<[string, string]>;
  body?: { contentType: string; body: string };
}

const COMMON_METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS'];
const ODD_METHODS = [
  'TRACE',
  'TRACK',
  'CONNECT',
  'PROPFIND',
  'MKCOL',
  'M-SEARCH',
  'PURGE',
  'QUERY',
  'BREW',
  'get',
  'Get',
  'G\tET',
  'GET ',
  'GE T',
  'POST\u0000',
  'XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX',
  '',
];
const VERSIONS = ['HTTP/1.0', 'HTTP/2.0', 'HTTP/0.9', 'HTTP/1.1 ', 'HTTP/9.9', 'http/1.1', 'HTTP/1.1x', ''];

/** Bytes that matter to URL parsers and path matchers, percent-encoded or not. */
const PATH_PIECES = [
  '.',
  '..',
  '',
  '%2e',
  '%2E%2E',
  '.%2e',
  '%2f',
  '%2F..%2F',
  '%5c',
  '\\',
  '%00',
  '%0d%0a',
  '%',
  '%zz',
  '%25',
  '%252e%252e',
  ';',
  ';jsessionid=x',
  '%20',
  '~',
  '@',
  ':',
  '%c0%ae',
  '%ef%bc%8f',
  'é',
  '\u2215',
  '*',
];

/** Special request targets; `{{origin}}` is the app's own http://host:port. */
const SPECIAL_TARGETS = [
  '*',
  '//x',
  '//evil.example/',
  '//evil.example/path?x=1',
  '///etc/passwd',
  'http://evil.example/',
  'http://evil.example/v1/chat/completions',
  'https://evil.example:443/x',
  'http://169.254.169.254/metadata/identity/oauth2/token',
  '{{origin}}/',
  '{{origin}}/health',
  'http://127.0.0.1/',
  'evil.example:443',
  'x',
  '',
  '?',
  '?a=1',
  '#',
  '/#frag',
  '/?#',
  '/%',
  '/%zz',
  '/%00',
  '/a b',
  '/a\tb',
  '/\u00e9',
  '/\u2603',
  '/..',
  '/../../../../etc/passwd',
  '/%2e%2e/%2e%2e/etc/passwd',
  '/./.././',
  '/a/%2e%2e/',
  '//',
  '/\\',
  '/\\evil.example',
];

const ORIGINS = [
  'https://evil.example',
  'http://127.0.0.1',
  'null',
  '{{origin}}',
  'javascript:alert(1)',
  'https://evil.example/session/carta/abc123/',
];

/** fc.oneof with weights; entries of weight 0 are left out (what a plausible request never has). */
function weighted<T>(...items: Array<[number, fc.Arbitrary<T>]>): fc.Arbitrary<T> {
  return fc.oneof(...items.filter(([w]) => w > 0).map(([weight, arbitrary]) => ({ weight, arbitrary })));
}

/** Printable ASCII (what a header value or a query usually holds). */
const printable = (maxLength: number) =>
  fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)), maxLength });
/** Any 7-bit byte, control characters included. */
const anyAscii = (maxLength: number) => fc.string({ unit: 'binary-ascii', maxLength });
const tokenChars = fc.constantFrom(
  ..."!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ".split(''),
);
const token = (min: number, max: number) => fc.string({ unit: tokenChars, minLength: min, maxLength: max });
/** Latin-1 text: what ends up in a header value when a client sends raw bytes. */
const latin1 = (maxLength: number) =>
  fc.string({ unit: fc.integer({ min: 0, max: 255 }).map((c) => String.fromCharCode(c)), maxLength });

export function methodArb(wild = true): fc.Arbitrary<string> {
  return weighted(
    [12, fc.constantFrom(...COMMON_METHODS)],
    [wild ? 3 : 1, fc.constantFrom(...(wild ? ODD_METHODS : ['TRACE', 'PROPFIND', 'CONNECT', 'QUERY']))],
    [wild ? 1 : 0, token(1, 12)],
  );
}

function pathArb(v: Vocabulary): fc.Arbitrary<string> {
  const known = fc.constantFrom(...v.paths);
  const segment = weighted(
    [4, fc.constantFrom(...v.paths.flatMap((p) => p.split('/')).filter((s) => s !== ''))],
    [3, fc.constantFrom(...PATH_PIECES)],
    [2, fc.webSegment()],
    [1, printable(12).map(encodeURIComponent)],
  );
  // Bend a known path: insert dot segments, encodings and doubled slashes, change case.
  const bent = fc
    .tuple(
      known,
      fc.array(fc.tuple(fc.nat(), segment), { minLength: 1, maxLength: 3 }),
      fc.boolean(),
      fc.boolean(),
    )
    .map(([path, inserts, upper, trailing]) => {
      const parts = path.split('/');
      for (const [at, piece] of inserts) parts.splice(1 + (at % parts.length), 0, piece);
      let out = parts.join('/');
      if (upper) out = out.toUpperCase();
      if (trailing) out += '/';
      return out.startsWith('/') ? out : `/${out}`;
    });
  const random = fc.array(segment, { minLength: 0, maxLength: 6 }).map((s) => `/${s.join('/')}`);
  const long = fc
    .tuple(known, fc.integer({ min: 2_000, max: 70_000 }), fc.constantFrom('a', '../', '%2e', '/'))
    .map(([path, n, unit]) => `${path}/${unit.repeat(Math.ceil(n / unit.length))}`);
  return weighted([10, known], [6, bent], [3, random], [1, long]);
}

function queryArb(v: Vocabulary): fc.Arbitrary<string> {
  const known = fc.constantFrom(...v.queries);
  const pair = fc
    .tuple(fc.webSegment(), weighted([3, fc.webSegment()], [1, printable(30).map(encodeURIComponent)]))
    .map(([k, val]) => `${k}=${val}`);
  const mixed = fc
    .tuple(fc.array(weighted([3, known], [1, pair]), { minLength: 1, maxLength: 4 }))
    .map(([parts]) => parts.join('&'));
  const long = fc.integer({ min: 1_000, max: 20_000 }).map((n) => `q=${'x'.repeat(n)}`);
  return weighted(
    [12, known],
    [8, mixed],
    [1, long],
    [2, fc.constantFrom('', '&&&', '=', 'a=%zz', 'a[]=1&a[]=2')],
  );
}

function targetArb(v: Vocabulary, wild = true): fc.Arbitrary<string> {
  const originForm = fc
    .tuple(
      pathArb(v),
      weighted([1, fc.constant('')], [1, queryArb(v).map((q) => `?${q}`)]),
      weighted([wild ? 6 : 40, fc.constant('')], [1, fc.constantFrom('#x', '#/../..')]),
    )
    .map(([p, q, f]) => `${p}${q}${f}`);
  const absolute = fc
    .tuple(
      fc.constantFrom('http://evil.example', '{{origin}}', 'https://127.0.0.1', 'http://[::1]:80'),
      originForm,
    )
    .map(([origin, rest]) => `${origin}${rest}`);
  const special = wild
    ? SPECIAL_TARGETS
    : SPECIAL_TARGETS.filter((t) => /^(\/|\{\{origin\}\}|https?:)/.test(t) && !/\s/.test(t));
  return weighted([14, originForm], [2, fc.constantFrom(...special)], [1, absolute]);
}

/** A credential value: one of the app's, mutated or not, or a marker nobody should see again. */
function credentialArb(v: Vocabulary): fc.Arbitrary<string> {
  const base = fc.constantFrom(...v.credentials, '{{marker}}');
  return fc
    .tuple(base, weighted([3, fc.constant('')], [2, fc.constantFrom(...MUTATIONS)]))
    .map(([c, m]) => (m === '' || !c.startsWith('{{') ? c : c.replace(/\}\}$/, `:${m}}}`)));
}

function authorizationArb(v: Vocabulary): fc.Arbitrary<string> {
  const cred = credentialArb(v);
  return weighted(
    [6, cred.map((c) => `Bearer ${c}`)],
    [1, cred.map((c) => `bearer ${c}`)],
    [1, cred.map((c) => `Bearer  ${c}  `)],
    [1, cred.map((c) => `Basic ${Buffer.from(`user:${c}`).toString('base64')}`)],
    [1, cred],
    [1, fc.tuple(cred, cred).map(([a, b]) => `Bearer ${a} ${b}`)],
    [1, fc.constantFrom('Bearer', 'Bearer ', 'Basic', 'Negotiate x', 'Bearer {{marker}}, Bearer {{marker}}')],
  );
}

function cookieArb(v: Vocabulary): fc.Arbitrary<string> {
  const names = v.cookieNames ?? ['session'];
  const pair = fc
    .tuple(
      weighted(
        [4, fc.constantFrom(...names)],
        [1, fc.constantFrom(...names).map((n) => n.toUpperCase())],
        [1, token(1, 8)],
      ),
      credentialArb(v),
    )
    .map(([n, c]) => `${n}=${c}`);
  return fc
    .tuple(fc.array(pair, { minLength: 1, maxLength: 3 }), fc.constantFrom('; ', ';', ' ; ', ', '))
    .map(([pairs, sep]) => pairs.join(sep));
}

/** The headers everyone sends or spoofs, with values worth trying. */
function interestingHeaderArb(v: Vocabulary): fc.Arbitrary<[string, string]> {
  const cred = credentialArb(v);
  const h = (name: string, value: fc.Arbitrary<string>) => value.map((x): [string, string] => [name, x]);
  const ip = fc.oneof(
    fc.ipV4(),
    fc.ipV6(),
    fc.constantFrom('unknown', '127.0.0.1, 10.0.0.1', '', '::1', '1.1.1.1, evil'),
  );
  const uri = weighted(
    [2, targetArb(v)],
    [1, fc.constantFrom(...v.paths)],
    [1, fc.constantFrom(...SPECIAL_TARGETS)],
  );
  const refererOrigin = fc.constantFrom(...ORIGINS, 'https://carta.example.org', 'http://localhost:8080');
  const common: Array<fc.Arbitrary<[string, string]>> = [
    h('Authorization', authorizationArb(v)),
    h('api-key', cred),
    h('Cookie', cookieArb(v)),
    h(
      'Proxy-Authorization',
      cred.map((c) => `Basic ${c}`),
    ),
    ...(v.credentialHeaders ?? []).map((name) => h(name, cred)),
    h('X-Forwarded-For', ip),
    h('X-Forwarded-Host', fc.constantFrom('evil.example', '{{host}}', 'carta.example.org', 'a b', '')),
    h('X-Forwarded-Proto', fc.constantFrom('https', 'http', 'gopher', 'https, http')),
    h('X-Forwarded-Port', fc.constantFrom('443', '0', '99999', 'x')),
    h('X-Forwarded-Prefix', fc.constantFrom('/', '/prefix', '//evil.example', '/..')),
    h('X-Forwarded-Uri', uri),
    h('X-Forwarded-Method', methodArb()),
    h('X-Original-URI', uri),
    h('X-Original-URL', uri),
    h('X-Rewrite-URL', uri),
    h('Forwarded', fc.constantFrom('for=1.2.3.4;host=evil.example;proto=https', 'for="[::1]"', 'garbage')),
    h(
      'Referer',
      fc.oneof(
        fc.tuple(refererOrigin, uri).map(([o, u]) => `${o}${u}`),
        uri,
      ),
    ),
    h('Origin', fc.constantFrom(...ORIGINS)),
    h('Upgrade', fc.constantFrom('websocket', 'h2c', 'TLS/1.2', 'WebSocket, h2c', '')),
    h(
      'Connection',
      fc.constantFrom(
        'Upgrade',
        'close',
        'keep-alive',
        'Upgrade, HTTP2-Settings',
        'keep-alive, authorization',
        'te, x-custom',
        'api-key',
        'cookie',
      ),
    ),
    h('HTTP2-Settings', fc.constantFrom('AAMAAABkAARAAAAAAAIAAAAA')),
    h('Sec-WebSocket-Key', fc.constantFrom('dGhlIHNhbXBsZSBub25jZQ==')),
    h('Sec-WebSocket-Version', fc.constantFrom('13', '8')),
    h(
      'Accept-Encoding',
      fc.constantFrom('gzip', 'br', 'deflate', 'gzip, deflate, br, zstd', 'identity;q=0', '*', 'x-bogus'),
    ),
    h('Content-Encoding', fc.constantFrom('gzip', 'deflate', 'br', 'identity', 'x-bogus', 'gzip, gzip')),
    h(
      'Content-Type',
      fc.constantFrom(
        'application/json',
        'application/x-www-form-urlencoded',
        'text/plain; charset=utf-16',
        'multipart/form-data; boundary=x',
        'application/json; charset=latin1',
        '',
        '*/*',
      ),
    ),
    h('Expect', fc.constantFrom('100-continue', 'x-nothing')),
    h('TE', fc.constantFrom('trailers', 'gzip', 'chunked')),
    h('X-Request-Id', fc.constantFrom('', 'a'.repeat(300), '../../x', 'fuzz-request', 'id\u00e9')),
    h('X-HTTP-Method-Override', methodArb()),
    h('Range', fc.constantFrom('bytes=0-1', 'bytes=-1', 'bytes=999999999999-', 'x')),
    h('Max-Forwards', fc.constantFrom('0', '-1')),
    h('Accept', fc.constantFrom('text/event-stream', 'application/json', 'text/html', '*/*', '')),
    h('User-Agent', fc.constantFrom('curl/8.0', 'python-requests/2.31', '', 'x'.repeat(2000))),
    h('Metadata', fc.constantFrom('true', 'True', 'false')),
  ];
  return weighted(
    [10, fc.oneof(...common)],
    [6, v.headers.length > 0 ? fc.constantFrom(...v.headers) : fc.oneof(...common)],
    [2, fc.tuple(token(1, 20), printable(40)).map(([k, val]): [string, string] => [k, val.trim()])],
  );
}

/** Casing as clients and proxies write it, and as nobody does. */
function recase(name: string, how: number): string {
  switch (how % 4) {
    case 0:
      return name;
    case 1:
      return name.toLowerCase();
    case 2:
      return name.toUpperCase();
    default:
      return [...name].map((c, i) => ((i + how) % 2 === 0 ? c.toUpperCase() : c.toLowerCase())).join('');
  }
}

/** Header lines a strict parser must refuse: raw socket only. */
const MALFORMED_HEADERS: Array<[string, string]> = [
  ['X-Bad\u0000', 'x'],
  ['X-Nul', 'a\u0000b'],
  ['X-Del', 'a\u007fb'],
  ['X Space', 'x'],
  ['X-Colon:', 'x'],
  ['', 'no-name'],
  ['X-Fold', 'a\r\n folded'],
  ['X-Bare-LF', 'a\nb'],
  ['X-Bare-CR', 'a\rb'],
  ['Host ', 'evil.example'],
  ['Content-Length', '0, 5'],
  ['Transfer-Encoding', 'chunked'],
  ['Transfer-Encoding', 'chunked, chunked'],
  ['X-Utf8', '\u00ff\u00fe'],
  ['\u00e9', 'x'],
];

function headersArb(
  v: Vocabulary,
  wild: boolean,
): fc.Arbitrary<{ headers: Array<[string, string]>; rawOnly: boolean }> {
  const one = fc
    .tuple(interestingHeaderArb(v), fc.nat())
    .map(([[k, val], how]): [string, string] => [recase(k, how), val]);
  const plain = fc.array(one, { minLength: 0, maxLength: 8 });
  // Repeat some of them (same or different value): duplicated credentials, URIs, hosts.
  const duplicated = fc
    .tuple(
      plain,
      fc.array(fc.tuple(fc.nat(), fc.boolean(), interestingHeaderArb(v)), { minLength: 1, maxLength: 3 }),
    )
    .map(([hs, dups]) => {
      const out = [...hs];
      for (const [at, same, [k, val]] of dups) {
        const src = out.length > 0 ? out[at % out.length]! : ([k, val] as [string, string]);
        out.push(same ? [src[0], src[1]] : [recase(src[0], at), val]);
      }
      return out;
    });
  const oversized = fc
    .tuple(
      plain,
      fc.constantFrom('X-Big', 'Authorization', 'Cookie', 'X-Forwarded-Uri', 'Referer'),
      fc.integer({ min: 4_000, max: 40_000 }),
    )
    .map(([hs, name, n]): Array<[string, string]> => [
      ...hs,
      [name, name === 'Authorization' ? `Bearer ${'A'.repeat(n)}` : 'x'.repeat(n)],
    ]);
  const many = fc
    .tuple(plain, fc.integer({ min: 60, max: 300 }))
    .map(([hs, n]): Array<[string, string]> => [
      ...hs,
      ...Array.from({ length: n }, (_, i): [string, string] => [`X-Many-${i}`, String(i)]),
    ]);
  const malformed = fc
    .tuple(plain, fc.constantFrom(...MALFORMED_HEADERS), fc.nat())
    .map(([hs, bad, at]): Array<[string, string]> => {
      const out = [...hs];
      out.splice(at % (out.length + 1), 0, bad);
      return out;
    });
  const binaryValue = fc
    .tuple(
      plain,
      fc.constantFrom('X-Latin1', 'Authorization', 'Cookie', 'Referer'),
      fc.oneof(latin1(60), anyAscii(60)),
    )
    .map(([hs, name, val]): Array<[string, string]> => [...hs, [name, val]]);
  type Headers = { headers: Array<[string, string]>; rawOnly: boolean };
  return weighted<Headers>(
    [12, plain.map((headers) => ({ headers, rawOnly: false }))],
    [5, duplicated.map((headers) => ({ headers, rawOnly: false }))],
    [2, oversized.map((headers) => ({ headers, rawOnly: false }))],
    [1, many.map((headers) => ({ headers, rawOnly: false }))],
    [wild ? 4 : 0, malformed.map((headers) => ({ headers, rawOnly: true }))],
    [wild ? 2 : 0, binaryValue.map((headers) => ({ headers, rawOnly: true }))],
  );
}

function bodyArb(
  v: Vocabulary,
  wild: boolean,
): fc.Arbitrary<{ body: BodySpec; contentType?: string; contentEncoding?: string }> {
  const known =
    v.bodies.length > 0
      ? fc.constantFrom(...v.bodies)
      : fc.constant({ contentType: 'text/plain', body: 'x' });
  const data = weighted(
    [
      6,
      known.map((k) => ({
        bytes: Buffer.from(k.body),
        contentType: k.contentType as string | undefined,
        contentEncoding: undefined as string | undefined,
      })),
    ],
    [
      2,
      fc.json({ maxDepth: 3 }).map((j) => ({
        bytes: Buffer.from(j),
        contentType: 'application/json' as string | undefined,
        contentEncoding: undefined as string | undefined,
      })),
    ],
    [
      2,
      fc.uint8Array({ maxLength: 2048 }).map((b) => ({
        bytes: Buffer.from(b),
        contentType: undefined as string | undefined,
        contentEncoding: undefined as string | undefined,
      })),
    ],
    [
      2,
      known.map((k) => ({
        bytes: gzipSync(k.body),
        contentType: k.contentType as string | undefined,
        contentEncoding: 'gzip' as string | undefined,
      })),
    ],
    [
      1,
      fc.uint8Array({ minLength: 1, maxLength: 64 }).map((b) => ({
        bytes: Buffer.from(b),
        contentType: 'application/json' as string | undefined,
        contentEncoding: 'gzip' as string | undefined,
      })),
    ],
    [
      1,
      fc.integer({ min: 64 * 1024, max: 300 * 1024 }).map((n) => ({
        bytes: Buffer.from(`{"messages":[{"role":"user","content":"${'a'.repeat(n)}"}]}`),
        contentType: 'application/json' as string | undefined,
        contentEncoding: undefined as string | undefined,
      })),
    ],
  );
  const chunks = (bytes: Buffer) =>
    fc.array(fc.nat({ max: Math.max(1, bytes.length) }), { maxLength: 4 }).map((cuts) => {
      const points = [...new Set([0, ...cuts.map((c) => c % (bytes.length + 1)), bytes.length])].sort(
        (a, b) => a - b,
      );
      return points.slice(1).map((end, i) => bytes.subarray(points[i]!, end));
    });
  return weighted(
    [10, fc.constant({ body: { kind: 'none' } as BodySpec })],
    [
      8,
      data.map((d) => ({
        body: { kind: 'length', data: d.bytes } as BodySpec,
        contentType: d.contentType,
        contentEncoding: d.contentEncoding,
      })),
    ],
    [
      3,
      data.chain((d) =>
        fc
          .tuple(
            chunks(d.bytes),
            fc.constantFrom('chunked', 'gzip, chunked', 'Chunked', 'identity, chunked'),
            fc.constantFrom('', ';ext=1', ';x="y"'),
            fc.constantFrom<Array<[string, string]>>(
              [],
              [['X-Trailer', '1']],
              [['Authorization', 'Bearer {{marker}}']],
            ),
          )
          .map(([cs, te, extension, trailers]) => ({
            body: { kind: 'chunked', te, chunks: cs, extension, trailers } as BodySpec,
            contentType: d.contentType,
            contentEncoding: d.contentEncoding,
          })),
      ),
    ],
    [
      wild ? 2 : 0,
      fc
        .tuple(
          data,
          fc.constantFrom('-1', '1e3', '0x10', '+5', ' 7 ', 'abc', '99999999999999999999', '3', '1000000'),
        )
        .map(([d, declared]) => ({
          body: { kind: 'bad-length', declared, data: d.bytes } as BodySpec,
          contentType: d.contentType,
        })),
    ],
    [
      wild ? 2 : 0,
      data.map((d) => ({
        body: { kind: 'length-and-chunked', data: d.bytes } as BodySpec,
        contentType: d.contentType,
      })),
    ],
    [
      wild ? 2 : 0,
      fc
        .constantFrom(
          'zz\r\nabc\r\n0\r\n\r\n',
          '5\r\nab\r\n0\r\n\r\n',
          '-1\r\n',
          'ffffffffffffffff\r\nx',
          '3\r\nabc0\r\n\r\n',
          '1;' + 'e'.repeat(5000) + '\r\nx\r\n0\r\n\r\n',
        )
        .map((raw) => ({ body: { kind: 'bad-chunked', raw } as BodySpec })),
    ],
    [
      wild ? 2 : 0,
      fc
        .tuple(data, fc.constantFrom('gzip', 'identity', 'chunked, gzip', 'x-bogus', 'chunked;q=1'))
        .map(([d, te]) => ({ body: { kind: 'te-only', te, data: d.bytes } as BodySpec })),
    ],
  );
}

function hostArb(wild: boolean): fc.Arbitrary<HostSpec> {
  return weighted(
    [20, fc.constant<HostSpec>({ kind: 'default' })],
    [wild ? 2 : 0, fc.constant<HostSpec>({ kind: 'none' })],
    [
      2,
      fc
        .constantFrom(
          'evil.example',
          'localhost',
          '127.0.0.1:1',
          '[::1]',
          ...(wild ? ['', 'a b', 'x'.repeat(300)] : []),
        )
        .map((value): HostSpec => ({ kind: 'value', value })),
    ],
    [
      wild ? 2 : 0,
      fc.constantFrom('evil.example', 'other').map((value): HostSpec => ({ kind: 'twice', value })),
    ],
  );
}

/**
 * Every generated request: most are plausible (what a client or a proxy in front might send, bent
 * in the ways that matter to routing and credentials), the rest are wild (what only an attacker's
 * socket sends: malformed lines, broken framing, unknown methods and versions).
 */
export function requestArb(v: Vocabulary): fc.Arbitrary<RequestSpec> {
  return weighted([7, requestOf(v, false)], [3, requestOf(v, true)]);
}

/** An exemplar, bent by a few of the changes an attacker tries first. */
function fromExemplar(v: Vocabulary, exemplars: fc.Arbitrary<Exemplar>): fc.Arbitrary<RequestSpec> {
  const maybe = <T>(weight: number, arbitrary: fc.Arbitrary<T>) =>
    weighted<T | undefined>([100 - weight, fc.constant(undefined)], [weight, arbitrary]);
  return fc
    .record({
      exemplar: exemplars,
      method: maybe(15, methodArb(false)),
      target: maybe(15, targetArb(v, false)),
      added: maybe(50, fc.array(fc.tuple(interestingHeaderArb(v), fc.nat()), { minLength: 1, maxLength: 3 })),
      duplicate: maybe(15, fc.nat()),
      recase: maybe(30, fc.nat()),
      mutation: maybe(25, fc.constantFrom(...MUTATIONS)),
      forceRaw: fc.nat({ max: 9 }),
    })
    .map(({ exemplar, method, target, added, duplicate, recase: how, mutation, forceRaw }) => {
      let headers = exemplar.headers.map(([k, val]): [string, string] => [
        how === undefined ? k : recase(k, how),
        mutation === undefined ? val : val.replace(/\{\{([A-Za-z0-9_.-]+)\}\}/, `{{$1:${mutation}}}`),
      ]);
      if (duplicate !== undefined && headers.length > 0) headers.push(headers[duplicate % headers.length]!);
      if (added !== undefined)
        headers = [...headers, ...added.map(([[k, val], n]): [string, string] => [recase(k, n), val])];
      const body: BodySpec = exemplar.body
        ? { kind: 'length', data: Buffer.from(exemplar.body.body) }
        : { kind: 'none' };
      if (exemplar.body && !headers.some(([k]) => k.toLowerCase() === 'content-type'))
        headers.push(['Content-Type', exemplar.body.contentType]);
      const spec: RequestSpec = {
        method: method ?? exemplar.method,
        target: target ?? exemplar.target,
        version: 'HTTP/1.1',
        host: { kind: 'default' },
        headers,
        body,
        lineEnding: '\r\n',
        transport: forceRaw < 2 ? 'raw' : 'auto',
      };
      return spec;
    });
}

function requestOf(v: Vocabulary, wild: boolean): fc.Arbitrary<RequestSpec> {
  const generic = genericRequest(v, wild);
  return v.exemplars && !wild ? weighted([2, generic], [1, fromExemplar(v, v.exemplars)]) : generic;
}

function genericRequest(v: Vocabulary, wild: boolean): fc.Arbitrary<RequestSpec> {
  return fc
    .record({
      method: methodArb(wild),
      target: targetArb(v, wild),
      version: wild
        ? weighted([6, fc.constant('HTTP/1.1')], [1, fc.constantFrom(...VERSIONS)])
        : fc.constant('HTTP/1.1'),
      host: hostArb(wild),
      headers: headersArb(v, wild),
      body: bodyArb(v, wild),
      bareLf: fc.nat({ max: wild ? 8 : 1_000_000 }),
      forceRaw: fc.nat({ max: 9 }),
    })
    .map(({ method, target, version, host, headers, body, bareLf, forceRaw }) => {
      const extra: Array<[string, string]> = [];
      if (
        body.contentType !== undefined &&
        !headers.headers.some(([k]) => k.toLowerCase() === 'content-type')
      )
        extra.push(['Content-Type', body.contentType]);
      if (body.contentEncoding !== undefined) extra.push(['Content-Encoding', body.contentEncoding]);
      const spec: RequestSpec = {
        method,
        target,
        version,
        host,
        headers: [...headers.headers, ...extra],
        body: body.body,
        lineEnding: wild && bareLf === 0 ? '\n' : '\r\n',
        // Some plausible requests go out raw too: the exact bytes, not undici's rendering of them.
        transport: headers.rawOnly || wild || forceRaw < 2 ? 'raw' : 'auto',
      };
      return spec;
    });
}
