// The README's proxy snippets, as written, in front of the running sidecar (issue 15): real nginx
// (auth_request) and real Caddy (forward_auth) from Debian's packages, and the request Envoy's
// ext_authz HTTP client sends for the README's fragment (Envoy has no package here). Each: every
// URL shape, a WebSocket, a client's own identity headers, a revoked session refused within 2 s.
import { startKubeApi, type KubeApi } from '@auth-sidecars/testkit/kube-api';
import { connect } from 'node:net';
import { parse } from 'yaml';
import { rawRequest, sessionPod, startCarta, until, NS, type Carta, type RawResponse } from '../helpers.js';
import {
  codeBlocks,
  PLACEHOLDERS,
  readmeSection,
  startBackend,
  startCaddy,
  startNginx,
  substitute,
  websocketRoundTrip,
  type Backend,
  type Running,
  type SeenRequest,
} from './proxy-servers.js';

let api: KubeApi;
let carta: Carta;
let backend: Backend;

beforeAll(async () => {
  api = await startKubeApi({ defaultNamespace: NS });
  api.addPod(sessionPod('carta-new', 'abc123', 'alice'));
  api.addPod(sessionPod('carta-legacy', 'old42', 'bob', 'legacy'));
  carta = await startCarta(api);
  backend = await startBackend();
  await until(async () => (await fetch(`${carta.probeUrl}/readyz`)).status === 200, 10_000);
});

afterAll(async () => {
  await carta?.close();
  await backend?.close();
  await api?.close();
});

const sidecarHost = () => new URL(carta.url).host;

/** A GET through the proxy, sent as written (no client-side path normalisation). */
async function viaProxy(
  proxy: Running,
  target: string,
  headers: Array<[string, string]> = [],
): Promise<{ res: RawResponse; seen?: SeenRequest }> {
  const res = await rawRequest(proxy.url, target, headers);
  const seen = res.status === 200 ? (JSON.parse(res.body) as SeenRequest) : undefined;
  return { res, seen };
}

const SHAPES: Array<[string, string, string]> = [
  ['CARTA 5+', '/session/carta/abc123/', 'alice'],
  ['CARTA 5+ asset with query', '/session/carta/abc123/static/js/main.js?v=5', 'alice'],
  ['legacy http shape', '/session/carta/http/abc123/', 'alice'],
  ['legacy ws shape, legacy labels', '/session/carta/ws/old42/socket', 'bob'],
];

interface ProxyCase {
  name: string;
  start(): Promise<Running>;
}

const proxies: ProxyCase[] = [
  {
    name: 'nginx (auth_request)',
    start: async () => {
      const blocks = codeBlocks(readmeSection('nginx'), 'nginx');
      expect(blocks).toHaveLength(2);
      const [httpContext, serverContext] = blocks as [string, string];
      return startNginx(
        httpContext,
        substitute(serverContext, [[PLACEHOLDERS.sidecar, sidecarHost()]]),
        backend.url,
      );
    },
  },
  {
    name: 'Caddy (forward_auth)',
    start: async () => {
      const blocks = codeBlocks(readmeSection('Caddy'), 'caddyfile');
      expect(blocks).toHaveLength(1);
      const site = substitute(blocks[0]!, [
        [PLACEHOLDERS.sidecar, sidecarHost()],
        [PLACEHOLDERS.backend, new URL(backend.url).host],
      ]);
      return startCaddy(site, PLACEHOLDERS.site);
    },
  },
];

describe.each(proxies)('README snippet: $name', ({ start }) => {
  let proxy: Running;
  beforeAll(async () => {
    proxy = await start();
  }, 60_000);
  afterAll(async () => {
    await proxy?.close();
  });

  it.each(SHAPES)('passes %s to CARTA with the owner in carta-auth-token', async (_shape, uri, user) => {
    const { res, seen } = await viaProxy(proxy, uri);
    expect(res.status).toBe(200);
    expect(seen?.url).toBe(uri);
    expect(seen?.headers['carta-auth-token']).toBe(user);
  });

  it('refuses unknown sessions and non-canonical paths before CARTA sees them', async () => {
    const before = backend.seen.length;
    for (const uri of [
      '/session/carta/zzz999/',
      '/session/carta/ABC123/',
      '/session/carta/abc123/../old42/',
      '/session/carta/abc123/%2e%2e/old42/',
      '/session/carta/abc123%2f..%2fold42/',
    ]) {
      const { res } = await viaProxy(proxy, uri);
      expect({ uri, denied: res.status >= 400 && res.status < 500 }).toEqual({ uri, denied: true });
    }
    expect(backend.seen.length).toBe(before);
  });

  it("drops the client's own identity headers and claims", async () => {
    const spoofed: Array<[string, string]> = [
      ['carta-auth-token', 'mallory'],
      ['Carta-Auth-Token', 'mallory2'],
      ['X-Forwarded-User', 'mallory'],
      ['X-Forwarded-Uri', '/session/carta/old42/'],
      ['X-Original-URI', '/session/carta/old42/'],
    ];
    const { res, seen } = await viaProxy(proxy, '/session/carta/abc123/', spoofed);
    expect(res.status).toBe(200);
    expect(seen?.headers['carta-auth-token']).toBe('alice');
    expect(seen?.headers['x-forwarded-user']).toBeUndefined();
    // A spoofed identity on a session nobody owns gets nowhere.
    expect((await viaProxy(proxy, '/session/carta/zzz999/', spoofed)).res.status).toBe(403);
  });

  it('carries a WebSocket to CARTA, as the session owner, both ways', async () => {
    const url = `${proxy.url.replace('http', 'ws')}/session/carta/abc123/ws/`;
    const ws = await websocketRoundTrip(url, 'hello carta');
    expect(ws.opened).toBe(true);
    expect(ws.hello?.headers.upgrade?.toLowerCase()).toBe('websocket');
    expect(ws.hello?.headers['carta-auth-token']).toBe('alice');
    expect(ws.echo).toBe('echo:hello carta');
    const legacy = await websocketRoundTrip(
      `${proxy.url.replace('http', 'ws')}/session/carta/ws/old42/`,
      'x',
    );
    expect(legacy.hello?.headers['carta-auth-token']).toBe('bob');
    // no handshake for a session nobody owns
    const refused = await websocketRoundTrip(
      `${proxy.url.replace('http', 'ws')}/session/carta/zzz999/ws/`,
      'x',
    );
    expect(refused).toEqual({ opened: false });
  });
});

describe.each(proxies)('revocation through $name', ({ start }) => {
  let proxy: Running;
  beforeAll(async () => {
    proxy = await start();
  }, 60_000);
  afterAll(async () => {
    await proxy?.close();
  });

  it('refuses a session within 2 s of its pod losing its user label, and of its deletion', async () => {
    const id = `rev${Date.now().toString(36)}`;
    api.addPod(sessionPod(`carta-${id}`, id, 'carol'));
    await until(async () => (await viaProxy(proxy, `/session/carta/${id}/`)).res.status === 200, 5000);
    api.updatePod(`carta-${id}`, (p) => void delete p.metadata.labels!['canfar.net/username']);
    await until(async () => (await viaProxy(proxy, `/session/carta/${id}/`)).res.status === 403, 2000);

    api.updatePod(`carta-${id}`, (p) => void (p.metadata.labels!['canfar.net/username'] = 'carol'));
    await until(async () => (await viaProxy(proxy, `/session/carta/${id}/`)).res.status === 200, 5000);
    api.deletePod(`carta-${id}`);
    await until(async () => (await viaProxy(proxy, `/session/carta/${id}/`)).res.status === 403, 2000);
  });
});

// ------------------------------------------------------------------------------------------ Envoy

interface StringMatcher {
  exact?: string;
  prefix?: string;
  suffix?: string;
  contains?: string;
  ignore_case?: boolean;
}

interface ExtAuthzConfig {
  allowed_headers?: { patterns: StringMatcher[] };
  http_service: {
    server_uri: { uri: string };
    path_prefix?: string;
    authorization_response?: { allowed_upstream_headers?: { patterns: StringMatcher[] } };
  };
}

function matches(name: string, patterns: StringMatcher[]): boolean {
  return patterns.some((p) => {
    const kinds = Object.keys(p).filter((k) => k !== 'ignore_case');
    if (kinds.length !== 1) throw new Error(`unsupported matcher ${JSON.stringify(p)}`);
    const n = p.ignore_case ? name.toLowerCase() : name;
    const v = (s: string) => (p.ignore_case ? s.toLowerCase() : s);
    if (p.exact !== undefined) return n === v(p.exact);
    if (p.prefix !== undefined) return n.startsWith(v(p.prefix));
    if (p.suffix !== undefined) return n.endsWith(v(p.suffix));
    return n.includes(v(p.contains!));
  });
}

/** The README's ext_authz filter config. */
function readmeExtAuthz(): ExtAuthzConfig {
  const blocks = codeBlocks(readmeSection('Envoy (ext_authz HTTP)'), 'yaml');
  expect(blocks).toHaveLength(1);
  const filters = parse(blocks[0]!) as {
    http_filters: Array<{ name: string; typed_config: ExtAuthzConfig }>;
  };
  const filter = filters.http_filters.find((f) => f.name === 'envoy.filters.http.ext_authz');
  expect(filter).toBeDefined();
  return filter!.typed_config;
}

interface Original {
  method?: string;
  path: string;
  authority?: string;
  headers?: Array<[string, string]>;
}

/**
 * What Envoy's ext_authz HTTP client (source/extensions/filters/common/ext_authz/ext_authz_http_impl.cc)
 * sends for `original`: the original method, path_prefix + :path, the :authority as Host,
 * Content-Length 0, and of the other headers only Authorization and those allowed_headers matches.
 * Returns the sidecar's answer and, on 200, the headers the upstream then gets.
 */
async function envoyCheck(
  config: ExtAuthzConfig,
  sidecar: string,
  original: Original,
): Promise<{ status: number; upstream?: Record<string, string> }> {
  const allowed = config.allowed_headers?.patterns ?? [];
  const forwarded = (original.headers ?? []).filter(
    ([k]) => k.toLowerCase() === 'authorization' || matches(k.toLowerCase(), allowed),
  );
  const target = `${config.http_service.path_prefix ?? ''}${original.path}`;
  const head = [
    `${original.method ?? 'GET'} ${target} HTTP/1.1`,
    `host: ${original.authority ?? 'carta.example.org'}`,
    'content-length: 0',
    ...forwarded.map(([k, v]) => `${k.toLowerCase()}: ${v}`),
    'x-envoy-expected-rq-timeout-ms: 500',
    'connection: close',
    '',
    '',
  ].join('\r\n');
  const { hostname, port } = new URL(sidecar);
  const text = await new Promise<string>((resolve, reject) => {
    const chunks: Buffer[] = [];
    // write, not end: nginx takes a half-closed client for a gone one (499, no answer)
    const socket = connect(Number(port), hostname, () => socket.write(head));
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', reject);
    socket.on('close', () => resolve(Buffer.concat(chunks).toString('latin1')));
  });
  const [statusLine = '', ...lines] = text.split('\r\n\r\n')[0]!.split('\r\n');
  const status = Number(statusLine.split(' ')[1]);
  if (status !== 200) return { status };
  const upstream: Record<string, string> = {};
  for (const [k, v] of original.headers ?? []) upstream[k.toLowerCase()] = v;
  const upstreamAllowed =
    config.http_service.authorization_response?.allowed_upstream_headers?.patterns ?? [];
  for (const line of lines) {
    const i = line.indexOf(':');
    const name = line.slice(0, i).toLowerCase();
    // allowed_upstream_headers: set on the upstream request, overriding the client's copy
    if (matches(name, upstreamAllowed)) upstream[name] = line.slice(i + 1).trim();
  }
  return { status, upstream };
}

describe("README snippet: Envoy ext_authz HTTP (the request shape Envoy's client sends)", () => {
  let config: ExtAuthzConfig;
  let envoyCarta: Carta;
  beforeAll(async () => {
    config = readmeExtAuthz();
    expect(new URL(config.http_service.server_uri.uri).host).toBe(PLACEHOLDERS.sidecar);
    // the README pairs path_prefix with AUTH_PATH_PREFIX
    expect(readmeSection('Envoy (ext_authz HTTP)')).toContain(
      `\`AUTH_PATH_PREFIX=${config.http_service.path_prefix}\``,
    );
    envoyCarta = await startCarta(api, { AUTH_PATH_PREFIX: config.http_service.path_prefix! });
    await until(async () => (await fetch(`${envoyCarta.probeUrl}/readyz`)).status === 200, 10_000);
  });
  afterAll(async () => {
    await envoyCarta?.close();
  });

  it.each(SHAPES)('allows %s and hands carta-auth-token upstream', async (_shape, path, user) => {
    for (const method of ['GET', 'POST', 'DELETE']) {
      const r = await envoyCheck(config, envoyCarta.url, { method, path });
      expect({ method, status: r.status, user: r.upstream?.['carta-auth-token'] }).toEqual({
        method,
        status: 200,
        user,
      });
    }
  });

  it('checks a WebSocket handshake by its path alone (upgrade headers are not forwarded)', async () => {
    const r = await envoyCheck(config, envoyCarta.url, {
      path: '/session/carta/abc123/ws/',
      headers: [
        ['upgrade', 'websocket'],
        ['connection', 'Upgrade'],
        ['sec-websocket-key', 'dGhlIHNhbXBsZSBub25jZQ=='],
        ['sec-websocket-version', '13'],
      ],
    });
    expect(r.status).toBe(200);
    expect(r.upstream).toMatchObject({ upgrade: 'websocket', 'carta-auth-token': 'alice' });
  });

  it("never lets the client's own headers decide, and replaces its carta-auth-token", async () => {
    const spoofed: Array<[string, string]> = [
      ['carta-auth-token', 'mallory'],
      ['x-forwarded-uri', '/session/carta/old42/'],
      ['x-original-uri', '/session/carta/old42/'],
    ];
    const allowed = await envoyCheck(config, envoyCarta.url, {
      path: '/session/carta/abc123/',
      headers: spoofed,
    });
    expect(allowed).toMatchObject({ status: 200, upstream: { 'carta-auth-token': 'alice' } });
    for (const path of ['/session/carta/zzz999/', '/admin/', '/livez', '/readyz', '/metrics'])
      expect((await envoyCheck(config, envoyCarta.url, { path, headers: spoofed })).status).toBe(403);
    // The Referer passes allowed_headers but is not read unless REFERER_FALLBACK is on.
    const viaReferer = await envoyCheck(config, envoyCarta.url, {
      path: '/static/app.js',
      headers: [['referer', 'https://carta.example.org/session/carta/abc123/']],
    });
    expect(viaReferer.status).toBe(403);
  });

  it('refuses a deleted session within 2 s', async () => {
    const id = `env${Date.now().toString(36)}`;
    api.addPod(sessionPod(`carta-${id}`, id, 'dora'));
    const path = `/session/carta/${id}/`;
    await until(async () => (await envoyCheck(config, envoyCarta.url, { path })).status === 200, 5000);
    api.deletePod(`carta-${id}`);
    await until(async () => (await envoyCheck(config, envoyCarta.url, { path })).status === 403, 2000);
  });
});
