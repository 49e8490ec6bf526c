// token-server under fuzz: the built dist/main.js with a client certificate against dev-entra, two
// clients (the seed's single secret, and a clients document with a wildcard allow-list). Besides the
// common properties: a token only ever goes to a request that presents a configured secret, for a
// scope that client's allow-list permits.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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

/**
 * The clients whose secrets the request presents, as a bearer or as the identity header (which one
 * a door reads is the app's business: a token may be any presented client's).
 */
function presentedClients(req: SentRequest): Array<(typeof CLIENTS)[number]> {
  const found = new Set<(typeof CLIENTS)[number]>();
  for (const [name, value] of req.headers) {
    const n = name.trim().toLowerCase();
    if (n !== 'authorization' && n !== 'x-identity-header') continue;
    const presented = value
      .trim()
      .replace(/^bearer\s+/i, '')
      .trim();
    const client = CLIENTS.find((c) => c.secret === presented);
    if (client) found.add(client);
  }
  return [...found];
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

/**
 * The resource a token was issued for: its `aud`. What the request asked for is not enough: the seed
 * door serves Azure Resource Manager when no scope is given (as azd's server does) and reads
 * `scope` only, so `/token?resource=<vault>` gets an ARM token, which is the default client's own.
 */
function audienceOf(token: string): string | undefined {
  try {
    const payload = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8')) as {
      aud?: unknown;
    };
    return typeof payload.aud === 'string' ? payload.aud : undefined;
  } catch {
    return undefined;
  }
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
/** `<client> <audience>` of every token given. */
const audiences = new Set<string>();

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
    tokenAllowed: (ex) => presentedClients(ex.request).length > 0,
    // A 502/503/504 only when the request was authenticated, i.e. could have reached the IdP.
    upstreamFailure: (ex, res) =>
      [502, 503, 504].includes(res.status) && presentedClients(ex.request).length > 0,
    check: (ex, res) => {
      const token = grantedToken(res);
      if (token === undefined) return [];
      const clients = presentedClients(ex.request);
      if (clients.length === 0) return ['a token was given to a request without a configured secret'];
      const audience = audienceOf(token);
      if (audience === undefined) return [`a token without an audience (${ex.request.target})`];
      const entitled = clients.filter((c) => c.scopes.some((p) => allows(p, audience)));
      if (entitled.length === 0)
        return [
          `${clients.map((c) => c.name).join(' and ')} got a token for ${JSON.stringify(audience)}, outside the allow-list ${JSON.stringify(clients.flatMap((c) => c.scopes))}`,
        ];
      for (const c of entitled) audiences.add(`${c.name} ${audience}`);
      return [];
    },
  });
  expect(report.requests).toBe(fuzzSettings().runs);
  // Both clients really got tokens, so the properties above were exercised both ways.
  expect(issued.size).toBeGreaterThan(1);
  // Both of the api client's allow-list entries (the one-label wildcard too) were really served.
  expect([...audiences].filter((a) => a.startsWith('api ')).length).toBeGreaterThan(1);
});
