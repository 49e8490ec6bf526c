// token-server under fuzz: the built dist/main.js with a client certificate against dev-entra, two
// clients (the seed's single secret, and a clients document with a wildcard allow-list). Besides the
// common properties: a token only ever goes to a request that presents a configured secret, for a
// scope that client's allow-list permits.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import querystring from 'node:querystring';
import { startDevEntra, type DevEntra } from '@auth-sidecars/dev-entra';
import type { LaunchedProcess } from '@auth-sidecars/testkit/process';
import fc from 'fast-check';
import type { Exemplar, Vocabulary } from './support/arbitraries.js';
import { keyExcerpt, startApp } from './support/apps.js';
import { runFuzz } from './support/harness.js';
import type { ParsedResponse } from './support/raw-client.js';
import type { Exchange } from './support/sender.js';
import { fuzzSettings } from './support/settings.js';
import type { SentRequest } from './support/spec.js';

/** Two clients: the seed's secret (default client) and an `api` client from a clients document. */
const CLIENTS = [
  {
    name: 'default',
    secret: 'fuzz-default-secret-7d41c0a9e2b8',
    scopes: ['https://management.azure.com/.default'],
  },
  {
    name: 'api',
    secret: 'fuzz-api-secret-3f9a62d8c1e7b5',
    scopes: ['https://*.vault.azure.net', 'https://storage.azure.com/.default'],
  },
] as const;

const SCOPES = [
  'https://management.azure.com/.default',
  'https://management.azure.com',
  'https://management.azure.com/',
  'HTTPS://MANAGEMENT.AZURE.COM/.default',
  'https://management.azure.com/.default openid',
  'https://myvault.vault.azure.net/.default',
  'https://myvault.vault.azure.net',
  'https://a.b.vault.azure.net/.default',
  'https://evil.example/x.vault.azure.net',
  'https://vault.azure.net.evil.example/.default',
  'https://.vault.azure.net',
  'https://storage.azure.com/.default',
  'https://storage.azure.com',
  'https://graph.microsoft.com/.default',
  'api://management/.default',
  'openid',
  '*',
];

const q = (s: string) => encodeURIComponent(s);
const vocabulary: Vocabulary = {
  paths: [
    '/token',
    '/token',
    '/msi/token',
    '/msi/token',
    '/',
    '/metadata/identity/oauth2/token',
    '/health',
    '/livez',
    '/readyz',
    '/metrics',
    '/TOKEN',
    '/token/',
    '/MSI/Token/',
  ],
  queries: [
    ...SCOPES.map((s) => `scope=${q(s)}`),
    ...SCOPES.map((s) => `resource=${q(s)}&api-version=2019-08-01`),
    `resource=${q(SCOPES[5]!)}&api-version=2018-02-01`,
    `scope=${q(SCOPES[0]!)}&scope=${q(SCOPES[5]!)}`,
    `resource=${q(SCOPES[5]!)}&api-version=2019-08-01&client_id=00000000-0000-0000-0000-000000000000`,
    `resource=${q(SCOPES[5]!)}&api-version=2019-08-01&mi_res_id=x`,
    'scope=',
  ],
  credentials: ['{{secret0}}', '{{secret1}}', '{{marker}}'],
  credentialHeaders: ['X-IDENTITY-HEADER'],
  headers: [
    ['Authorization', 'Bearer {{secret0}}'],
    ['Authorization', 'Bearer {{secret1}}'],
    ['X-IDENTITY-HEADER', '{{secret1}}'],
    ['X-IDENTITY-HEADER', '{{secret0}}'],
    ['Metadata', 'true'],
  ],
  bodies: [{ contentType: 'application/x-www-form-urlencoded', body: `scope=${q(SCOPES[0]!)}` }],
  // What the SDKs send: the seed door with a bearer, the App Service door with the identity header.
  exemplars: fc
    .tuple(fc.constantFrom(...SCOPES), fc.constantFrom('{{secret0}}', '{{secret1}}'), fc.nat({ max: 2 }))
    .map(([scope, secret, door]): Exemplar => {
      if (door === 0)
        return {
          method: 'GET',
          target: `/token?scope=${q(scope)}`,
          headers: [['Authorization', `Bearer ${secret}`]],
        };
      const path = door === 1 ? '/msi/token' : '/';
      return {
        method: 'GET',
        target: `${path}?resource=${q(scope)}&api-version=2019-08-01`,
        headers: [['X-IDENTITY-HEADER', secret]],
      };
    }),
};

/** The client whose secret the request presents, as a bearer or as the identity header. */
function presentedClient(req: SentRequest): (typeof CLIENTS)[number] | undefined {
  for (const [name, value] of req.headers) {
    const n = name.trim().toLowerCase();
    if (n !== 'authorization' && n !== 'x-identity-header') continue;
    const presented = value
      .trim()
      .replace(/^bearer\s+/i, '')
      .trim();
    const client = CLIENTS.find((c) => c.secret === presented);
    if (client) return client;
  }
  return undefined;
}

/** Scheme and host lower-cased, `/.default` and a trailing slash dropped: the resource a scope names. */
function resourceOf(scope: string): string {
  const bare = scope.replace(/\/\.default$/i, '').replace(/\/+$/, '');
  const m = /^([a-z][a-z0-9+.-]*:\/\/)([^/]*)(.*)$/i.exec(bare);
  return m ? `${m[1]!.toLowerCase()}${m[2]!.toLowerCase()}${m[3]}` : bare;
}

/** Issue 14.5's rule: `*` in an allow-list pattern stands for exactly one DNS label of the host. */
function allows(pattern: string, scope: string): boolean {
  const want = resourceOf(pattern);
  const have = resourceOf(scope);
  const regex = new RegExp(
    `^${want
      .split('*')
      .map((p) => p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
      .join('[a-z0-9-]+')}$`,
  );
  return regex.test(have);
}

function requestedScope(req: SentRequest): string | undefined {
  const query = querystring.parse(req.target.split('?')[1]?.split('#')[0] ?? '');
  const value = query.scope ?? query.resource;
  return typeof value === 'string' ? value : undefined;
}

function grantedToken(res: ParsedResponse): string | undefined {
  if (res.status !== 200) return undefined;
  try {
    const body = JSON.parse(res.body.toString('utf8')) as { access_token?: unknown };
    return typeof body.access_token === 'string' ? body.access_token : undefined;
  } catch {
    return undefined;
  }
}

let entra: DevEntra;
let app: LaunchedProcess;
let dir: string;
let keySample: string;
const issued = new Set<string>();

beforeAll(async () => {
  entra = await startDevEntra();
  const cert = await entra.createClientCertificate({ subject: 'token-server' });
  const registered = entra.registerApp({ name: 'token-server', certificatePem: cert.certPem });
  keySample = keyExcerpt(cert.keyPem);
  dir = await mkdtemp(join(tmpdir(), 'fuzz-token-server-'));
  const certPath = join(dir, 'client.pem');
  await writeFile(certPath, cert.pem);
  const [seed, api] = CLIENTS;
  app = await startApp('token-server', {
    AZURE_TENANT_ID: entra.tenantId,
    AZURE_CLIENT_ID: registered.clientId,
    AZURE_CLIENT_CERTIFICATE_PATH: certPath,
    AZURE_AUTHORITY_HOST: entra.url,
    NODE_EXTRA_CA_CERTS: entra.caPath,
    AZD_AUTH_SECRET: seed.secret,
    TOKEN_SERVER_ALLOWED_SCOPES: seed.scopes.join(','),
    TOKEN_SERVER_CLIENTS: JSON.stringify([{ name: api.name, secrets: [api.secret], scopes: api.scopes }]),
  });
});

afterAll(async () => {
  await app?.close();
  await entra?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

it('gives tokens only for a configured secret and an allowed scope, and keeps the common properties', async () => {
  const report = await runFuzz({
    app: 'token-server',
    process: app,
    alivePath: '/livez',
    vocabulary,
    values: () => ({ secret0: CLIENTS[0].secret, secret1: CLIENTS[1].secret }),
    secrets: () => [...CLIENTS.map((c) => c.secret), keySample],
    tokens: () => [...issued],
    afterBatch: async (exchanges: readonly Exchange[]) => {
      for (const ex of exchanges) {
        if (ex.outcome.kind !== 'response') continue;
        const token = grantedToken(ex.outcome.response);
        if (token !== undefined) issued.add(token);
      }
    },
    tokenAllowed: (ex) => presentedClient(ex.request) !== undefined,
    // A 502/503/504 only when the request was authenticated, i.e. could have reached the IdP.
    upstreamFailure: (ex, res) =>
      [502, 503, 504].includes(res.status) && presentedClient(ex.request) !== undefined,
    check: (ex, res) => {
      const token = grantedToken(res);
      if (token === undefined) return [];
      const client = presentedClient(ex.request);
      if (client === undefined) return ['a token was given to a request without a configured secret'];
      const scope = requestedScope(ex.request);
      if (scope === undefined)
        return [`a token was given without a single scope or resource (${ex.request.target})`];
      if (!client.scopes.some((p) => allows(p, scope)))
        return [
          `client ${client.name} got a token for ${JSON.stringify(scope)}, outside its allow-list ${JSON.stringify(client.scopes)}`,
        ];
      return [];
    },
  });
  expect(report.requests).toBe(fuzzSettings().runs);
  // Both clients really got tokens, so the properties above were exercised both ways.
  expect(issued.size).toBeGreaterThan(1);
});
