// dev-entra: a local, Entra ID compatible identity provider over HTTPS (see README.md).
import {
  createHash,
  createPublicKey,
  randomBytes,
  randomUUID,
  timingSafeEqual,
  X509Certificate,
} from 'node:crypto';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import express, { type NextFunction, type Request, type Response } from 'express';
import { decodeJwt, decodeProtectedHeader, jwtVerify } from 'jose';
import {
  certificatePemBlocks,
  certificateThumbprints,
  createCertificateAuthority,
  createClientCertificate,
  createServerCertificate,
  type ClientCertificate,
} from './certs.js';
import { EntraError, errors } from './errors.js';
import { createSigningKey, signJwt, type SigningKey } from './jwt.js';
import { loadOrCreateState, type TlsMaterial } from './state.js';
import type {
  AccessTokenClaims,
  DemoUser,
  DevEntraStats,
  DownMode,
  RegisterAppOptions,
  RegisteredApp,
  RequestLogEntry,
} from './model.js';
import { renderErrorPage, renderFormPost, renderSignedOutPage, renderSignInPage } from './pages.js';
import { trustDevEntraCa } from './trust.js';

export const DEFAULT_TENANT_ID = 'c0ffee00-0000-4000-8000-000000000001';
export const TOKEN_EXCHANGE_AUDIENCE = 'api://AzureADTokenExchange';
export const GRAPH_RESOURCE = 'https://graph.microsoft.com';
const JWT_BEARER = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
const OIDC_SCOPES = new Set(['openid', 'profile', 'offline_access', 'email']);
const CODE_LIFETIME_MS = 10 * 60 * 1000;
const TX_LIFETIME_MS = 30 * 60 * 1000;

export const DEMO_GROUPS = {
  platformAdmins: '9a000000-0000-4000-8000-0000000000a1',
  developers: '9a000000-0000-4000-8000-0000000000a2',
} as const;

export const DEMO_USERS: readonly DemoUser[] = Object.freeze([
  {
    oid: 'a11ce000-0000-4000-8000-000000000001',
    upn: 'alice@contoso.test',
    name: 'Alice Anders',
    groups: [DEMO_GROUPS.platformAdmins, DEMO_GROUPS.developers],
  },
  {
    oid: 'b0b00000-0000-4000-8000-000000000002',
    upn: 'bob@contoso.test',
    name: 'Bob Baker',
    groups: [DEMO_GROUPS.developers],
  },
  {
    oid: 'ca401000-0000-4000-8000-000000000003',
    upn: 'carol@contoso.test',
    name: 'Carol Chen',
    groups: [],
  },
]);

export interface DevEntraOptions {
  /** Listen address. Default 127.0.0.1. */
  host?: string;
  /** Listen port. Default 0 (ephemeral). */
  port?: number;
  tenantId?: string;
  /** Access token lifetime. Default 3600. */
  tokenLifetimeSeconds?: number;
  /** Refresh token lifetime. Default 86400. */
  refreshTokenLifetimeSeconds?: number;
  /**
   * Retry-After (seconds) on injected 429/5xx answers. Default 1. MSAL throttles a request that got a
   * 429/5xx for Retry-After seconds, 60 s when the header is missing or 0.
   */
  retryAfterSeconds?: number;
  /** Where to write the CA PEM. Default: a fresh temp dir, removed by close(). */
  caPath?: string;
  /** Demo users. Default DEMO_USERS (alice, bob, carol @contoso.test). */
  users?: DemoUser[];
  /** Apps registered at start. */
  apps?: RegisterAppOptions[];
  /** Called for every request log entry (e.g. the CLI prints them). */
  onRequest?: (entry: RequestLogEntry) => void;
  /** Request log size (newest kept). Default 1000. */
  requestLogLimit?: number;
  /** Trust the CA in this process right away (same as calling trust()). Default false. */
  trust?: boolean;
  /**
   * Generate a new CA for this instance. Default false: the instances of one process share a CA (and
   * TLS certificate), so trusting it once covers them all. Token signing keys are always per instance.
   */
  freshCa?: boolean;
  /**
   * Keep the CA, the TLS certificate and the signing keys in this directory (created if missing):
   * loaded from it when present, else generated and written there. A dev-entra restarted with the
   * same directory (and port) is the same IdP to running apps: their CA trust and cached JWKS
   * still hold. Registered apps are not kept (re-register them, as the CLI does from its options).
   */
  stateDir?: string;
}

export interface IssueFederatedTokenOptions {
  subject: string;
  /** Default api://AzureADTokenExchange. */
  audience?: string | string[];
  /** Default 3600. */
  expiresInSeconds?: number;
}

export interface IssueAccessTokenOptions {
  /** Resource (aud) or a scope (`https://x/.default`, `api://x/read`). */
  scope: string;
  /** The client the token is issued to. Default: a fixed test client id. */
  clientId?: string;
  /** A demo user's upn or oid for a user token; app token when omitted. */
  user?: string;
  roles?: string[];
  lifetimeSeconds?: number;
  /** Extra or overriding claims. */
  claims?: Record<string, unknown>;
}

interface AppRecord {
  clientId: string;
  name: string;
  servicePrincipalId: string;
  clientSecret?: string;
  /** keyed by SHA-1 upper hex thumbprint */
  certs: Map<string, { der: Buffer; x5tS256: string; pem: string }>;
  federatedSubjects: string[];
  federatedAudience: string;
  redirectUris: string[];
  roles: string[];
  publicClient: boolean;
}

interface AuthTx {
  app: AppRecord;
  redirectUri: string;
  scope: string;
  state?: string;
  nonce?: string;
  codeChallenge?: string;
  codeChallengeMethod?: string;
  responseMode: string;
  loginHint?: string;
  expiresAt: number;
}

interface CodeRecord {
  clientId: string;
  redirectUri: string;
  scope: string;
  nonce?: string;
  codeChallenge?: string;
  codeChallengeMethod?: string;
  user: DemoUser;
  expiresAt: number;
  used: boolean;
}

interface RefreshRecord {
  clientId: string;
  user: DemoUser;
  scope: string;
  expiresAt: number;
}

interface ClientAuth {
  app: AppRecord;
  method: 'secret' | 'certificate' | 'federated' | 'none';
}

/** Per-request details collected for the request log. */
interface LogDetails {
  grantType?: string;
  clientId?: string;
  scope?: string;
  clientAuth?: string;
  error?: string;
  note?: string;
}

function emptyStats(): DevEntraStats {
  return { tokenRequests: 0, byGrant: {}, byClient: {}, byStatus: {}, tokensIssued: 0, codesIssued: 0 };
}

function bump(record: Record<string, number>, key: string): void {
  record[key] = (record[key] ?? 0) + 1;
}

function str(value: unknown): string | undefined {
  return typeof value === 'string' && value.length > 0 ? value : undefined;
}

function preview(value: string): string {
  return `${value.slice(0, 6)}…(${value.length})`;
}

function safeEqual(a: string, b: string): boolean {
  const ha = createHash('sha256').update(a).digest();
  const hb = createHash('sha256').update(b).digest();
  return timingSafeEqual(ha, hb);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function nowSeconds(): number {
  return Math.floor(Date.now() / 1000);
}

function isLoopbackHttp(url: URL): boolean {
  return url.protocol === 'http:' && ['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname);
}

function redirectMatches(registered: string, requested: string): boolean {
  if (registered === requested) return true;
  try {
    const a = new URL(registered);
    const b = new URL(requested);
    // Entra ignores the port of loopback http redirect URIs.
    return (
      isLoopbackHttp(a) &&
      isLoopbackHttp(b) &&
      a.hostname === b.hostname &&
      a.pathname === b.pathname &&
      a.search === b.search
    );
  } catch {
    return false;
  }
}

/** Splits scopes into the resource (aud) and the permissions. */
function resourceOf(scopes: string[]): { resource: string; permissions: string[] } {
  const resources = new Map<string, string[]>();
  for (const scope of scopes) {
    if (OIDC_SCOPES.has(scope)) continue;
    const slash = scope.lastIndexOf('/');
    let resource: string;
    let permission: string;
    if (slash > 0) {
      resource = scope.slice(0, slash);
      permission = scope.slice(slash + 1);
    } else {
      resource = GRAPH_RESOURCE;
      permission = scope;
    }
    if (!resources.has(resource)) resources.set(resource, []);
    if (permission) resources.get(resource)?.push(permission);
  }
  if (resources.size > 1) throw errors.multipleResources();
  const [entry] = [...resources.entries()];
  if (!entry) return { resource: GRAPH_RESOURCE, permissions: ['User.Read'] };
  return { resource: entry[0], permissions: entry[1] };
}

/** CA and 127.0.0.1/localhost server certificate, shared by the instances of a process unless freshCa. */
let sharedTls: Promise<TlsMaterial> | undefined;

async function createTlsMaterial(): Promise<TlsMaterial> {
  const ca = await createCertificateAuthority();
  const server = await createServerCertificate(ca);
  return { caPem: ca.certPem, certPem: server.certPem, keyPem: server.keyPem };
}

export class DevEntra {
  readonly tenantId: string;
  readonly caPem: string;
  readonly caPath: string;
  readonly users: DemoUser[];

  #url = '';
  #port = 0;
  readonly #host: string;
  readonly #server: https.Server;
  readonly #sockets = new Set<Socket>();
  readonly #ownsCaDir: string | undefined;
  readonly #signingKey: SigningKey;
  readonly #kubernetesKey: SigningKey;
  readonly #apps = new Map<string, AppRecord>();
  readonly #tx = new Map<string, AuthTx>();
  readonly #codes = new Map<string, CodeRecord>();
  readonly #refreshTokens = new Map<string, RefreshRecord>();
  readonly #log: RequestLogEntry[] = [];
  readonly #logLimit: number;
  readonly #onRequest: ((entry: RequestLogEntry) => void) | undefined;
  #stats = emptyStats();
  #tokenLifetime: number;
  readonly #refreshLifetime: number;
  #latencyMs = 0;
  #failNext = { remaining: 0, status: 503 };
  #down: { down: boolean; mode: DownMode } = { down: false, mode: 'unavailable' };
  #downTimer: NodeJS.Timeout | undefined;
  #retryAfter: number;
  #closed = false;

  private constructor(
    options: DevEntraOptions,
    tls: { caPem: string; certPem: string; keyPem: string },
    keys: { signing: SigningKey; kubernetes: SigningKey },
  ) {
    this.tenantId = options.tenantId ?? DEFAULT_TENANT_ID;
    this.caPem = tls.caPem;
    this.users = [...(options.users ?? DEMO_USERS)].map((u) => ({ ...u, groups: [...u.groups] }));
    this.#host = options.host ?? '127.0.0.1';
    this.#tokenLifetime = options.tokenLifetimeSeconds ?? 3600;
    this.#refreshLifetime = options.refreshTokenLifetimeSeconds ?? 86_400;
    this.#retryAfter = options.retryAfterSeconds ?? 1;
    this.#logLimit = options.requestLogLimit ?? 1000;
    this.#onRequest = options.onRequest;
    this.#signingKey = keys.signing;
    this.#kubernetesKey = keys.kubernetes;
    if (options.caPath) {
      mkdirSync(dirname(options.caPath), { recursive: true });
      this.caPath = options.caPath;
      this.#ownsCaDir = undefined;
    } else {
      this.#ownsCaDir = mkdtempSync(join(tmpdir(), 'dev-entra-'));
      this.caPath = join(this.#ownsCaDir, 'ca.pem');
    }
    writeFileSync(this.caPath, this.caPem);
    this.#server = https.createServer({ cert: tls.certPem, key: tls.keyPem }, this.#createApp());
    this.#server.on('connection', (socket: Socket) => {
      this.#sockets.add(socket);
      socket.on('close', () => this.#sockets.delete(socket));
    });
    this.#server.keepAliveTimeout = 5000;
  }

  /** Starts dev-entra (HTTPS with a freshly generated CA). */
  static async start(options: DevEntraOptions = {}): Promise<DevEntra> {
    const { tls, signing, kubernetes } = options.stateDir
      ? await loadOrCreateState(options.stateDir, createTlsMaterial)
      : await Promise.all([
          options.freshCa ? createTlsMaterial() : (sharedTls ??= createTlsMaterial()),
          createSigningKey(),
          createSigningKey(),
        ]).then(([tls, signing, kubernetes]) => ({ tls, signing, kubernetes }));
    const entra = new DevEntra(options, tls, { signing, kubernetes });
    await entra.#listen(options.port ?? 0);
    for (const app of options.apps ?? []) entra.registerApp(app);
    if (options.trust) entra.trust();
    return entra;
  }

  async #listen(port: number): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error): void => reject(err);
      this.#server.once('error', onError);
      this.#server.listen(port, this.#host, () => {
        this.#server.off('error', onError);
        resolve();
      });
    });
    const address = this.#server.address();
    if (!address || typeof address === 'string') throw new Error('dev-entra: no listen address');
    this.#port = address.port;
    const host = this.#host.includes(':') ? `[${this.#host}]` : this.#host;
    this.#url = `https://${host}:${this.#port}`;
  }

  /** https://127.0.0.1:PORT - use as AZURE_AUTHORITY_HOST / authorityHost. */
  get url(): string {
    return this.#url;
  }
  get port(): number {
    return this.#port;
  }
  /** `${url}/${tenantId}` - the MSAL authority. */
  get authority(): string {
    return `${this.#url}/${this.tenantId}`;
  }
  /** `${url}/${tenantId}/v2.0` - `iss` of access and id tokens. */
  get issuer(): string {
    return `${this.#url}/${this.tenantId}/v2.0`;
  }
  get tokenEndpoint(): string {
    return `${this.#url}/${this.tenantId}/oauth2/v2.0/token`;
  }
  get jwksUri(): string {
    return `${this.#url}/${this.tenantId}/discovery/v2.0/keys`;
  }
  /** Issuer of federated (Kubernetes service account style) tokens made by issueFederatedToken. */
  get kubernetesIssuer(): string {
    return `${this.#url}/_kubernetes`;
  }
  /** The access token signing key as a JWK set (what the JWKS endpoint serves). */
  get jwks(): { keys: Record<string, unknown>[] } {
    return { keys: [{ ...this.#signingKey.jwk }] };
  }
  /** Copy of the request log (newest last). Secrets, assertions, codes and tokens are never logged. */
  get requestLog(): RequestLogEntry[] {
    return [...this.#log];
  }

  /** Trust dev-entra's CA in this process (tls.setDefaultCACertificates). */
  trust(): void {
    trustDevEntraCa(this.caPem);
  }

  // ---------------------------------------------------------------- apps and users

  registerApp(options: RegisterAppOptions = {}): RegisteredApp {
    const clientId = options.clientId ?? randomUUID();
    const certs = new Map<string, { der: Buffer; x5tS256: string; pem: string }>();
    const pems = options.certificatePem === undefined ? [] : [options.certificatePem].flat();
    const federatedSubjects = options.federatedSubject === undefined ? [] : [options.federatedSubject].flat();
    const publicClient = options.publicClient ?? false;
    let clientSecret = options.clientSecret;
    if (!clientSecret && pems.length === 0 && federatedSubjects.length === 0 && !publicClient) {
      clientSecret = randomBytes(24).toString('base64url');
    }
    const record: AppRecord = {
      clientId,
      name: options.name ?? `app-${clientId.slice(0, 8)}`,
      servicePrincipalId: this.#apps.get(clientId)?.servicePrincipalId ?? randomUUID(),
      ...(clientSecret ? { clientSecret } : {}),
      certs,
      federatedSubjects,
      federatedAudience: options.federatedAudience ?? TOKEN_EXCHANGE_AUDIENCE,
      redirectUris: [...(options.redirectUris ?? [])],
      roles: [...(options.roles ?? [])],
      publicClient,
    };
    this.#apps.set(clientId, record);
    for (const pem of pems) this.#addCertificates(record, pem);
    return this.#describe(record);
  }

  getApp(clientId: string): RegisteredApp | undefined {
    const record = this.#apps.get(clientId);
    return record ? this.#describe(record) : undefined;
  }

  listApps(): RegisteredApp[] {
    return [...this.#apps.values()].map((record) => this.#describe(record));
  }

  /** Registers more certificate(s) (PEM, bundles allowed) on an app: certificate rotation. */
  addAppCertificate(clientId: string, certificatePem: string): RegisteredApp {
    const record = this.#requireApp(clientId);
    this.#addCertificates(record, certificatePem);
    return this.#describe(record);
  }

  /** Removes a certificate (PEM or SHA-1 thumbprint hex) from an app. */
  removeAppCertificate(clientId: string, certificatePemOrThumbprint: string): RegisteredApp {
    const record = this.#requireApp(clientId);
    const thumbprint = certificatePemOrThumbprint.includes('BEGIN CERTIFICATE')
      ? certificateThumbprints(certificatePemOrThumbprint).thumbprint
      : certificatePemOrThumbprint.replace(/:/g, '').toUpperCase();
    record.certs.delete(thumbprint);
    return this.#describe(record);
  }

  /** Replaces an app's client secret. */
  setAppSecret(clientId: string, clientSecret: string | undefined): RegisteredApp {
    const record = this.#requireApp(clientId);
    if (clientSecret) record.clientSecret = clientSecret;
    else delete record.clientSecret;
    return this.#describe(record);
  }

  /** A new self-signed client certificate (not registered: pass certPem to registerApp/addAppCertificate). */
  createClientCertificate(options?: { subject?: string; validDays?: number }): Promise<ClientCertificate> {
    return createClientCertificate(options);
  }

  /** Adds a demo user. */
  addUser(user: DemoUser): DemoUser {
    const copy = { ...user, groups: [...user.groups] };
    this.users.push(copy);
    return copy;
  }

  findUser(upnOrOid: string): DemoUser | undefined {
    const key = upnOrOid.toLowerCase();
    return this.users.find((u) => u.upn.toLowerCase() === key || u.oid === key);
  }

  #requireApp(clientId: string): AppRecord {
    const record = this.#apps.get(clientId);
    if (!record) throw new Error(`dev-entra: no app registered with client id ${clientId}`);
    return record;
  }

  #addCertificates(record: AppRecord, pem: string): void {
    const blocks = certificatePemBlocks(pem);
    if (blocks.length === 0) throw new Error('dev-entra: certificatePem holds no PEM certificate');
    for (const block of blocks) {
      const der = new X509Certificate(block).raw;
      const t = certificateThumbprints(der);
      record.certs.set(t.thumbprint, { der, x5tS256: t.x5tS256, pem: block });
    }
  }

  #describe(record: AppRecord): RegisteredApp {
    return {
      clientId: record.clientId,
      name: record.name,
      servicePrincipalId: record.servicePrincipalId,
      ...(record.clientSecret ? { clientSecret: record.clientSecret } : {}),
      thumbprints: [...record.certs.keys()],
      federatedSubjects: [...record.federatedSubjects],
      federatedAudience: record.federatedAudience,
      redirectUris: [...record.redirectUris],
      roles: [...record.roles],
      publicClient: record.publicClient,
    };
  }

  // ---------------------------------------------------------------- token minting

  /**
   * A federated token (like a projected Kubernetes service account token) signed by dev-entra's
   * kubernetes issuer; accepted as client_assertion for apps registered with this federatedSubject.
   */
  issueFederatedToken(options: IssueFederatedTokenOptions): string {
    const iat = nowSeconds();
    return signJwt(
      {
        aud: options.audience ?? TOKEN_EXCHANGE_AUDIENCE,
        exp: iat + (options.expiresInSeconds ?? 3600),
        iat,
        nbf: iat,
        iss: this.kubernetesIssuer,
        sub: options.subject,
        jti: randomUUID(),
      },
      this.#kubernetesKey,
    );
  }

  /** Mints an access token directly (no HTTP round trip), e.g. for gate tests. */
  issueAccessToken(options: IssueAccessTokenOptions): string {
    // A bare resource (`https://x`, a GUID) means its .default scope.
    const bare = /^[a-z][a-z0-9+.-]*:\/\/[^/]+\/?$/i.test(options.scope) || !options.scope.includes('/');
    const scope = bare ? `${options.scope.replace(/\/$/, '')}/.default` : options.scope;
    const { resource, permissions } = resourceOf([scope]);
    const clientId = options.clientId ?? '00000000-0000-4000-8000-00000000c11e';
    const app = this.#apps.get(clientId);
    const lifetime = options.lifetimeSeconds ?? this.#tokenLifetime;
    if (options.user) {
      const user = this.findUser(options.user);
      if (!user) throw new Error(`dev-entra: unknown user ${options.user}`);
      return this.#userAccessToken(user, clientId, resource, permissions, lifetime, options.claims);
    }
    const roles = options.roles ?? app?.roles ?? [];
    return this.#appAccessToken(
      clientId,
      app?.servicePrincipalId ?? clientId,
      resource,
      roles,
      '2',
      lifetime,
      options.claims,
    );
  }

  #baseClaims(clientId: string, resource: string, lifetime: number): Record<string, unknown> {
    const iat = nowSeconds();
    return {
      aud: resource,
      iss: this.issuer,
      iat,
      nbf: iat,
      exp: iat + lifetime,
      tid: this.tenantId,
      azp: clientId,
      appid: clientId,
      ver: '2.0',
      uti: randomBytes(16).toString('base64url'),
      rh: `0.${randomBytes(12).toString('base64url')}.`,
    };
  }

  #appAccessToken(
    clientId: string,
    servicePrincipalId: string,
    resource: string,
    roles: string[],
    azpacr: string,
    lifetime: number,
    extra?: Record<string, unknown>,
  ): string {
    return signJwt(
      {
        ...this.#baseClaims(clientId, resource, lifetime),
        azpacr,
        appidacr: azpacr,
        idp: this.issuer,
        idtyp: 'app',
        oid: servicePrincipalId,
        sub: servicePrincipalId,
        roles,
        ...extra,
      },
      this.#signingKey,
    );
  }

  #userAccessToken(
    user: DemoUser,
    clientId: string,
    resource: string,
    permissions: string[],
    lifetime: number,
    extra?: Record<string, unknown>,
  ): string {
    return signJwt(
      {
        ...this.#baseClaims(clientId, resource, lifetime),
        azpacr: '1',
        idtyp: 'user',
        oid: user.oid,
        sub: this.#pairwiseSub(user, clientId),
        upn: user.upn,
        preferred_username: user.upn,
        unique_name: user.upn,
        name: user.name,
        scp: permissions.map((p) => (p === '.default' ? 'user_impersonation' : p)).join(' '),
        ...(user.groups.length > 0 ? { groups: user.groups } : {}),
        amr: ['pwd'],
        ...extra,
      },
      this.#signingKey,
    );
  }

  #pairwiseSub(user: DemoUser, clientId: string): string {
    return createHash('sha256').update(`${user.oid}|${clientId}`).digest('base64url').slice(0, 43);
  }

  #idToken(user: DemoUser, clientId: string, nonce: string | undefined, scopes: Set<string>): string {
    const iat = nowSeconds();
    return signJwt(
      {
        aud: clientId,
        iss: this.issuer,
        iat,
        nbf: iat,
        exp: iat + 3600,
        name: user.name,
        oid: user.oid,
        preferred_username: user.upn,
        ...(scopes.has('email') ? { email: user.upn } : {}),
        rh: `0.${randomBytes(12).toString('base64url')}.`,
        sub: this.#pairwiseSub(user, clientId),
        tid: this.tenantId,
        uti: randomBytes(16).toString('base64url'),
        ver: '2.0',
        ...(nonce ? { nonce } : {}),
      },
      this.#signingKey,
    );
  }

  /** Verifies an access token issued by this dev-entra (in memory, no HTTP). */
  async verifyAccessToken(
    token: string,
    options: { audience?: string | string[]; clockToleranceSeconds?: number } = {},
  ): Promise<AccessTokenClaims> {
    const { payload } = await jwtVerify(token, this.#signingKey.publicKey, {
      algorithms: ['RS256'],
      issuer: this.issuer,
      ...(options.audience !== undefined ? { audience: options.audience } : {}),
      clockTolerance: options.clockToleranceSeconds ?? 0,
    });
    return payload as unknown as AccessTokenClaims;
  }

  // ---------------------------------------------------------------- run-time controls

  setTokenLifetime(seconds: number): void {
    if (!(seconds > 0)) throw new Error('token lifetime must be > 0 seconds');
    this.#tokenLifetime = Math.floor(seconds);
  }
  get tokenLifetimeSeconds(): number {
    return this.#tokenLifetime;
  }

  /** Added latency (ms) before every token endpoint answer. */
  setLatency(ms: number): void {
    this.#latencyMs = Math.max(0, ms);
  }

  /** The next `count` token requests fail with `status` (Entra error body; Retry-After on 429/5xx). */
  failNext(count: number, status = 503): void {
    this.#failNext = { remaining: Math.max(0, Math.floor(count)), status };
  }

  /** Retry-After seconds sent with injected 429/5xx answers. */
  setRetryAfter(seconds: number): void {
    this.#retryAfter = Math.max(0, Math.floor(seconds));
  }

  /**
   * Down until further notice. Modes: 'unavailable' (default) - every Entra endpoint answers 503 with
   * an Entra error body; 'reset' - connections are destroyed without an answer; 'refuse' - the listener
   * is closed (connection refused) and open sockets destroyed; /_control is unreachable until up again.
   * `forMs` brings it back up automatically. Resolves once the state is in effect.
   * In 'refuse' mode the timer that brings it back is the only thing left to keep a process alive (the
   * listener is closed), so it is not unref'd: a dev-entra CLI taken down for a while comes back.
   */
  async setDown(
    down: boolean,
    mode: DownMode = 'unavailable',
    options: { forMs?: number } = {},
  ): Promise<void> {
    clearTimeout(this.#downTimer);
    this.#downTimer = undefined;
    const wasRefusing = this.#down.down && this.#down.mode === 'refuse';
    this.#down = { down, mode };
    if (down && mode === 'refuse' && !wasRefusing) {
      await new Promise<void>((resolve) => {
        this.#server.close(() => resolve());
        for (const socket of this.#sockets) socket.destroy();
      });
    } else if (!(down && mode === 'refuse') && wasRefusing && !this.#closed) {
      await this.#listen(this.#port);
    }
    if (down && options.forMs !== undefined) {
      this.#downTimer = setTimeout(() => {
        this.setDown(false).catch((err: unknown) =>
          process.emitWarning(`dev-entra: could not come back up: ${(err as Error).message}`),
        );
      }, options.forMs);
      if (mode !== 'refuse') this.#downTimer.unref();
    }
  }

  get state(): {
    tokenLifetimeSeconds: number;
    latencyMs: number;
    failNext: { remaining: number; status: number };
    down: { down: boolean; mode: DownMode };
    retryAfterSeconds: number;
  } {
    return {
      tokenLifetimeSeconds: this.#tokenLifetime,
      latencyMs: this.#latencyMs,
      failNext: { ...this.#failNext },
      down: { ...this.#down },
      retryAfterSeconds: this.#retryAfter,
    };
  }

  stats(): DevEntraStats {
    return structuredClone(this.#stats);
  }

  resetStats(): void {
    this.#stats = emptyStats();
  }

  clearRequestLog(): void {
    this.#log.length = 0;
  }

  /** Revokes every refresh token (users must sign in again). */
  revokeRefreshTokens(): void {
    this.#refreshTokens.clear();
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#downTimer);
    await new Promise<void>((resolve) => {
      if (!this.#server.listening) {
        resolve();
        return;
      }
      this.#server.close(() => resolve());
      this.#server.closeIdleConnections();
      setTimeout(() => {
        for (const socket of this.#sockets) socket.destroy();
      }, 200).unref();
    });
    if (this.#ownsCaDir) rmSync(this.#ownsCaDir, { recursive: true, force: true });
  }

  // ---------------------------------------------------------------- HTTP

  #createApp(): express.Express {
    const app = express();
    app.disable('x-powered-by');
    app.set('etag', false);
    app.use((req, res, next) => this.#logRequests(req, res, next));
    app.use(express.urlencoded({ extended: false, limit: '1mb' }));
    app.use(express.json({ limit: '1mb' }));
    app.use((req, res, next) => this.#downGate(req, res, next));

    app.get('/', (_req, res) => {
      res.json({
        service: 'dev-entra',
        tenantId: this.tenantId,
        authority: this.authority,
        openidConfiguration: `${this.authority}/v2.0/.well-known/openid-configuration`,
      });
    });
    const openid = (req: Request, res: Response): void => {
      this.#tenant(req);
      res.json(this.#openidConfiguration());
    };
    app.get('/:tenant/v2.0/.well-known/openid-configuration', openid);
    app.get('/:tenant/.well-known/openid-configuration', openid);
    const jwks = (req: Request, res: Response): void => {
      this.#tenant(req);
      res.json(this.jwks);
    };
    app.get('/:tenant/discovery/v2.0/keys', jwks);
    app.get('/:tenant/discovery/keys', jwks);
    app.post('/:tenant/oauth2/v2.0/token', (req, res) => this.#token(req, res));
    app.get('/:tenant/oauth2/v2.0/authorize', (req, res) => this.#authorize(req, res, req.query));
    app.post('/:tenant/oauth2/v2.0/authorize', (req, res) => this.#authorizePost(req, res));
    app.get('/:tenant/oauth2/v2.0/logout', (req, res) => this.#logout(req, res, req.query));
    app.post('/:tenant/oauth2/v2.0/logout', (req, res) =>
      this.#logout(req, res, req.body as Record<string, unknown>),
    );

    app.get('/_kubernetes/.well-known/openid-configuration', (_req, res) => {
      res.json({
        issuer: this.kubernetesIssuer,
        jwks_uri: `${this.kubernetesIssuer}/openid/v1/jwks`,
        response_types_supported: ['id_token'],
        subject_types_supported: ['public'],
        id_token_signing_alg_values_supported: ['RS256'],
      });
    });
    app.get('/_kubernetes/openid/v1/jwks', (_req, res) => {
      res.json({ keys: [{ ...this.#kubernetesKey.jwk }] });
    });

    app.use('/_control', this.#controlRouter());

    app.use((_req: Request, res: Response) => {
      res.status(404).json({ error: 'not_found', error_description: 'dev-entra: no such endpoint' });
    });
    app.use((err: unknown, req: Request, res: Response, _next: NextFunction) => {
      this.#sendError(req, res, err);
    });
    return app;
  }

  #details(res: Response): LogDetails {
    const locals = res.locals as { devEntra?: LogDetails };
    locals.devEntra ??= {};
    return locals.devEntra;
  }

  #logRequests(req: Request, res: Response, next: NextFunction): void {
    const started = performance.now();
    res.on('finish', () => {
      const details = this.#details(res);
      const entry: RequestLogEntry = {
        time: new Date().toISOString(),
        method: req.method,
        path: req.path,
        status: res.statusCode,
        durationMs: Math.round((performance.now() - started) * 10) / 10,
        ...details,
      };
      if (details.grantType !== undefined) bump(this.#stats.byStatus, String(res.statusCode));
      this.#log.push(entry);
      if (this.#log.length > this.#logLimit) this.#log.splice(0, this.#log.length - this.#logLimit);
      this.#onRequest?.(entry);
    });
    next();
  }

  #isTokenPath(path: string): boolean {
    return /^\/[^/]+\/oauth2\/v2\.0\/token\/?$/.test(path);
  }

  #downGate(req: Request, res: Response, next: NextFunction): void {
    if (!this.#down.down || req.path.startsWith('/_control') || req.path.startsWith('/_kubernetes')) {
      next();
      return;
    }
    if (this.#down.mode === 'reset' || this.#down.mode === 'refuse') {
      req.socket.destroy();
      return;
    }
    if (this.#isTokenPath(req.path) && req.method === 'POST') {
      // Still a token request: count it.
      const body = (req.body ?? {}) as Record<string, unknown>;
      this.#countTokenRequest(res, str(body.grant_type), str(body.client_id));
    }
    this.#sendError(req, res, errors.unavailable(503));
  }

  #countTokenRequest(res: Response, grant: string | undefined, client: string | undefined): void {
    const details = this.#details(res);
    details.grantType = grant ?? 'unknown';
    if (client) details.clientId = client;
    this.#stats.tokenRequests += 1;
    bump(this.#stats.byGrant, grant ?? 'unknown');
    bump(this.#stats.byClient, client ?? 'unknown');
  }

  #sendError(req: Request, res: Response, err: unknown): void {
    let entraError: EntraError;
    if (err instanceof EntraError) entraError = err;
    else if (
      err &&
      typeof err === 'object' &&
      'type' in err &&
      (err as { type: unknown }).type === 'entity.parse.failed'
    ) {
      entraError = new EntraError(400, 'invalid_request', 900144, 'The request body could not be parsed.');
    } else {
      entraError = errors.internal();
      console.error('dev-entra internal error', err);
    }
    if (res.headersSent) {
      res.end();
      return;
    }
    const details = this.#details(res);
    details.error = `${entraError.error} AADSTS${entraError.aadsts}`;
    if (entraError.status === 429 || entraError.status >= 500)
      res.set('Retry-After', String(this.#retryAfter));
    res.set('Cache-Control', 'no-store');
    const correlationId = req.get('client-request-id') ?? undefined;
    res.status(entraError.status).json(entraError.body(correlationId));
  }

  #tenant(req: Request): string {
    const tenant = String(req.params.tenant ?? '');
    if (
      tenant.toLowerCase() === this.tenantId.toLowerCase() ||
      ['common', 'organizations', 'contoso.test', 'contoso.onmicrosoft.com'].includes(tenant.toLowerCase())
    ) {
      return this.tenantId;
    }
    throw errors.tenantNotFound(tenant);
  }

  #openidConfiguration(): Record<string, unknown> {
    const base = this.authority;
    return {
      token_endpoint: `${base}/oauth2/v2.0/token`,
      token_endpoint_auth_methods_supported: ['client_secret_post', 'private_key_jwt', 'client_secret_basic'],
      jwks_uri: `${base}/discovery/v2.0/keys`,
      response_modes_supported: ['query', 'fragment', 'form_post'],
      subject_types_supported: ['pairwise'],
      id_token_signing_alg_values_supported: ['RS256'],
      response_types_supported: ['code', 'id_token', 'code id_token', 'id_token token'],
      scopes_supported: ['openid', 'profile', 'email', 'offline_access'],
      issuer: this.issuer,
      request_uri_parameter_supported: false,
      userinfo_endpoint: `${this.#url}/oidc/userinfo`,
      authorization_endpoint: `${base}/oauth2/v2.0/authorize`,
      device_authorization_endpoint: `${base}/oauth2/v2.0/devicecode`,
      http_logout_supported: true,
      frontchannel_logout_supported: true,
      end_session_endpoint: `${base}/oauth2/v2.0/logout`,
      claims_supported: [
        'sub',
        'iss',
        'cloud_instance_name',
        'cloud_instance_host_name',
        'cloud_graph_host_name',
        'msgraph_host',
        'aud',
        'exp',
        'iat',
        'auth_time',
        'acr',
        'nonce',
        'preferred_username',
        'name',
        'tid',
        'ver',
        'at_hash',
        'c_hash',
        'email',
      ],
      code_challenge_methods_supported: ['plain', 'S256'],
      kerberos_endpoint: `${base}/kerberos`,
      tenant_region_scope: 'EU',
      cloud_instance_name: 'dev-entra.local',
      cloud_graph_host_name: 'graph.windows.net',
      msgraph_host: 'graph.microsoft.com',
      rbac_url: 'https://pas.windows.net',
    };
  }

  // ---------------------------------------------------------------- token endpoint

  async #token(req: Request, res: Response): Promise<void> {
    const body = (req.body ?? {}) as Record<string, unknown>;
    const grant = str(body.grant_type);
    const details = this.#details(res);
    let clientId = str(body.client_id);
    const assertion = str(body.client_assertion);
    if (!clientId) {
      const basic = this.#basicAuth(req);
      if (basic) clientId = basic.clientId;
    }
    if (!clientId && assertion) {
      try {
        clientId = str(decodeJwt(assertion).sub) ?? undefined;
      } catch {
        // reported below
      }
    }
    this.#countTokenRequest(res, grant, clientId);
    const scope = str(body.scope);
    if (scope) details.scope = scope;
    try {
      if (this.#latencyMs > 0) await sleep(this.#latencyMs);
      if (this.#failNext.remaining > 0) {
        this.#failNext.remaining -= 1;
        throw errors.unavailable(this.#failNext.status);
      }
      this.#tenant(req);
      if (!grant) throw errors.missingParameter('grant_type');
      let answer: Record<string, unknown>;
      switch (grant) {
        case 'client_credentials':
          answer = await this.#clientCredentials(req, body, details);
          break;
        case 'authorization_code':
          answer = await this.#authorizationCode(req, body, details);
          break;
        case 'refresh_token':
          answer = await this.#refreshToken(req, body, details);
          break;
        default:
          throw errors.unsupportedGrantType(grant);
      }
      this.#stats.tokensIssued += 1;
      res.set('Cache-Control', 'no-store');
      res.set('Pragma', 'no-cache');
      res.json(answer);
    } catch (err) {
      this.#sendError(req, res, err);
    }
  }

  #basicAuth(req: Request): { clientId: string; clientSecret: string } | undefined {
    const header = req.get('authorization');
    if (!header?.startsWith('Basic ')) return undefined;
    const decoded = Buffer.from(header.slice(6), 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 0) return undefined;
    return {
      clientId: decodeURIComponent(decoded.slice(0, colon)),
      clientSecret: decodeURIComponent(decoded.slice(colon + 1)),
    };
  }

  async #authenticateClient(
    req: Request,
    body: Record<string, unknown>,
    details: LogDetails,
  ): Promise<ClientAuth> {
    const basic = this.#basicAuth(req);
    const assertion = str(body.client_assertion);
    const secret = str(body.client_secret) ?? basic?.clientSecret;
    let clientId = str(body.client_id) ?? basic?.clientId;
    if (assertion) {
      const type = str(body.client_assertion_type);
      if (type !== JWT_BEARER) throw errors.invalidAssertionType(type ?? '');
      let claims: ReturnType<typeof decodeJwt>;
      let header: ReturnType<typeof decodeProtectedHeader>;
      try {
        claims = decodeJwt(assertion);
        header = decodeProtectedHeader(assertion);
      } catch (err) {
        throw errors.malformedAssertion(err instanceof Error ? err.message : 'not a JWT');
      }
      if (claims.iss === this.kubernetesIssuer) {
        if (!clientId) throw errors.missingParameter('client_id');
        const app = this.#apps.get(clientId);
        if (!app) throw errors.appNotFound(clientId, this.tenantId);
        details.clientAuth = 'federated';
        await this.#verifyFederated(app, assertion);
        return { app, method: 'federated' };
      }
      clientId ??= str(claims.iss);
      if (!clientId) throw errors.missingParameter('client_id');
      const app = this.#apps.get(clientId);
      if (!app) throw errors.appNotFound(clientId, this.tenantId);
      details.clientAuth = 'certificate';
      await this.#verifyCertificateAssertion(app, assertion, header, claims);
      return { app, method: 'certificate' };
    }
    if (!clientId) throw errors.missingParameter('client_id');
    const app = this.#apps.get(clientId);
    if (!app) throw errors.appNotFound(clientId, this.tenantId);
    if (secret) {
      details.clientAuth = 'secret';
      if (!app.clientSecret || !safeEqual(secret, app.clientSecret)) throw errors.invalidSecret(clientId);
      return { app, method: 'secret' };
    }
    details.clientAuth = 'none';
    if (app.publicClient && str(body.grant_type) !== 'client_credentials') return { app, method: 'none' };
    throw errors.credentialRequired();
  }

  async #verifyFederated(app: AppRecord, assertion: string): Promise<void> {
    let payload: Awaited<ReturnType<typeof jwtVerify>>['payload'];
    try {
      ({ payload } = await jwtVerify(assertion, this.#kubernetesKey.publicKey, {
        algorithms: ['RS256'],
        issuer: this.kubernetesIssuer,
        clockTolerance: 30,
      }));
    } catch (err) {
      const code = (err as { code?: string }).code;
      if (code === 'ERR_JWT_EXPIRED') throw errors.federatedExpired();
      throw errors.malformedAssertion(`federated token rejected: ${code ?? 'invalid'}`);
    }
    const audiences = [payload.aud ?? []].flat();
    const subject = String(payload.sub ?? '');
    if (!app.federatedSubjects.includes(subject)) {
      throw errors.noFederatedMatch(String(payload.iss), subject, audiences.join(','));
    }
    if (!audiences.includes(app.federatedAudience)) throw errors.federatedAudience(audiences.join(','));
  }

  async #verifyCertificateAssertion(
    app: AppRecord,
    assertion: string,
    header: ReturnType<typeof decodeProtectedHeader>,
    claims: ReturnType<typeof decodeJwt>,
  ): Promise<void> {
    const x5tS256 = str(header['x5t#S256']);
    const x5t = str(header.x5t);
    const x5c = Array.isArray(header.x5c) ? header.x5c : undefined;
    let cert: { der: Buffer } | undefined;
    let presented = '';
    if (x5c && x5c.length > 0) {
      const der = Buffer.from(String(x5c[0]), 'base64');
      const t = certificateThumbprints(der);
      presented = t.thumbprint;
      if ((x5tS256 && x5tS256 !== t.x5tS256) || (x5t && x5t !== t.x5t)) {
        throw errors.assertionSignature('x5c certificate does not match the x5t header');
      }
      cert = app.certs.get(t.thumbprint);
    } else if (x5tS256) {
      presented = Buffer.from(x5tS256, 'base64url').toString('hex').toUpperCase();
      cert = [...app.certs.values()].find((c) => c.x5tS256 === x5tS256);
    } else if (x5t) {
      presented = Buffer.from(x5t, 'base64url').toString('hex').toUpperCase();
      cert = app.certs.get(presented);
    } else {
      throw errors.malformedAssertion('the client assertion header has no x5t, x5t#S256 or x5c');
    }
    if (!cert) throw errors.assertionKeyNotFound(presented, app.clientId);
    const publicKey = createPublicKey({
      key: new X509Certificate(cert.der).publicKey.export({ format: 'pem', type: 'spki' }),
    });
    try {
      await jwtVerify(assertion, publicKey, { algorithms: ['RS256', 'PS256'], clockTolerance: 300 });
    } catch (err) {
      const code = (err as { code?: string }).code;
      if (code === 'ERR_JWT_EXPIRED' || code === 'ERR_JWT_CLAIM_VALIDATION_FAILED')
        throw errors.assertionExpired();
      throw errors.assertionSignature('Signature validation failed.');
    }
    if (typeof claims.exp !== 'number') throw errors.assertionClaims("the 'exp' claim is missing");
    if (claims.iss !== app.clientId || claims.sub !== app.clientId) {
      throw errors.assertionClaims(`iss and sub must be the client id '${app.clientId}'`);
    }
    const audiences = [claims.aud ?? []].flat();
    if (!audiences.some((aud) => this.#isOwnAudience(aud))) {
      throw errors.assertionClaims(
        `the audience '${audiences.join(',')}' is not the token endpoint '${this.tokenEndpoint}'`,
      );
    }
  }

  /** Client assertion audiences accepted: the token endpoint (any accepted tenant alias) or the issuer. */
  #isOwnAudience(aud: string): boolean {
    try {
      const url = new URL(aud);
      if (url.protocol !== 'https:' || Number(url.port) !== this.#port) return false;
      if (!['127.0.0.1', 'localhost', '[::1]', this.#host].includes(url.hostname)) return false;
      const match = /^\/([^/]+)\/(oauth2\/v2\.0\/token|v2\.0)\/?$/.exec(url.pathname);
      if (!match?.[1]) return false;
      const tenant = match[1].toLowerCase();
      return (
        tenant === this.tenantId.toLowerCase() || ['common', 'organizations', 'contoso.test'].includes(tenant)
      );
    } catch {
      return false;
    }
  }

  async #clientCredentials(
    req: Request,
    body: Record<string, unknown>,
    details: LogDetails,
  ): Promise<Record<string, unknown>> {
    const scope = str(body.scope);
    if (!scope) throw errors.missingParameter('scope');
    const { app, method } = await this.#authenticateClient(req, body, details);
    details.clientId = app.clientId;
    const scopes = scope.split(/\s+/).filter(Boolean);
    for (const s of scopes) {
      if (!s.endsWith('/.default')) {
        throw errors.invalidScope(
          s,
          'Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).',
        );
      }
    }
    const { resource } = resourceOf(scopes);
    const azpacr = method === 'secret' ? '1' : '2';
    const lifetime = this.#tokenLifetime;
    const accessToken = this.#appAccessToken(
      app.clientId,
      app.servicePrincipalId,
      resource,
      app.roles,
      azpacr,
      lifetime,
    );
    return {
      token_type: 'Bearer',
      expires_in: lifetime,
      ext_expires_in: lifetime,
      access_token: accessToken,
    };
  }

  #userTokenResponse(
    app: AppRecord,
    user: DemoUser,
    scope: string,
    nonce: string | undefined,
    details: LogDetails,
  ): Record<string, unknown> {
    const scopes = scope.split(/\s+/).filter(Boolean);
    const scopeSet = new Set(scopes);
    const { resource, permissions } = resourceOf(scopes);
    const lifetime = this.#tokenLifetime;
    const accessToken = this.#userAccessToken(user, app.clientId, resource, permissions, lifetime);
    const granted = [
      ...scopes.filter((s) => !OIDC_SCOPES.has(s)),
      ...['openid', 'profile', 'email'].filter((s) => scopeSet.has(s)),
    ];
    if (granted.filter((s) => !OIDC_SCOPES.has(s)).length === 0) granted.unshift(`${resource}/User.Read`);
    const answer: Record<string, unknown> = {
      token_type: 'Bearer',
      scope: granted.join(' '),
      expires_in: lifetime,
      ext_expires_in: lifetime,
      access_token: accessToken,
    };
    if (scopeSet.has('offline_access')) {
      const refreshToken = `1.dev-entra.${randomBytes(32).toString('base64url')}`;
      this.#refreshTokens.set(refreshToken, {
        clientId: app.clientId,
        user,
        scope,
        expiresAt: Date.now() + this.#refreshLifetime * 1000,
      });
      answer.refresh_token = refreshToken;
    }
    if (scopeSet.has('openid')) answer.id_token = this.#idToken(user, app.clientId, nonce, scopeSet);
    answer.client_info = Buffer.from(JSON.stringify({ uid: user.oid, utid: this.tenantId })).toString(
      'base64url',
    );
    details.note = `user=${user.upn}`;
    return answer;
  }

  async #authorizationCode(
    req: Request,
    body: Record<string, unknown>,
    details: LogDetails,
  ): Promise<Record<string, unknown>> {
    const code = str(body.code);
    if (!code) throw errors.missingParameter('code');
    const redirectUri = str(body.redirect_uri);
    if (!redirectUri) throw errors.missingParameter('redirect_uri');
    const { app } = await this.#authenticateClient(req, body, details);
    details.clientId = app.clientId;
    details.note = `code=${preview(code)}`;
    const record = this.#codes.get(code);
    if (!record || record.expiresAt < Date.now()) throw errors.codeInvalid();
    if (record.used) throw errors.codeRedeemed();
    record.used = true;
    if (record.clientId !== app.clientId) throw errors.codeClientMismatch();
    if (record.redirectUri !== redirectUri) throw errors.redirectMismatch(redirectUri);
    if (record.codeChallenge) {
      const verifier = str(body.code_verifier);
      if (!verifier) throw errors.pkceMissing();
      const computed =
        record.codeChallengeMethod === 'plain'
          ? verifier
          : createHash('sha256').update(verifier).digest('base64url');
      if (computed !== record.codeChallenge) throw errors.pkceMismatch();
    }
    const scope = str(body.scope) ?? record.scope;
    return this.#userTokenResponse(app, record.user, scope, record.nonce, details);
  }

  async #refreshToken(
    req: Request,
    body: Record<string, unknown>,
    details: LogDetails,
  ): Promise<Record<string, unknown>> {
    const token = str(body.refresh_token);
    if (!token) throw errors.missingParameter('refresh_token');
    const { app } = await this.#authenticateClient(req, body, details);
    details.clientId = app.clientId;
    details.note = `refresh_token=${preview(token)}`;
    const record = this.#refreshTokens.get(token);
    if (!record || record.expiresAt < Date.now() || record.clientId !== app.clientId)
      throw errors.refreshInvalid();
    const scope = str(body.scope) ?? record.scope;
    const requested = new Set(scope.split(/\s+/).filter(Boolean));
    // A refresh always yields a new (rotated) refresh token.
    const withOffline = requested.has('offline_access') ? scope : `${scope} offline_access`;
    return this.#userTokenResponse(app, record.user, withOffline, undefined, details);
  }

  // ---------------------------------------------------------------- authorize / logout

  #authorize(req: Request, res: Response, params: Record<string, unknown>): void {
    this.#tenant(req);
    const clientId = str(params.client_id);
    const app = clientId ? this.#apps.get(clientId) : undefined;
    if (!clientId || !app) {
      const err = clientId
        ? errors.appNotFound(clientId, this.tenantId)
        : errors.missingParameter('client_id');
      this.#details(res).error = `${err.error} AADSTS${err.aadsts}`;
      res.status(400).type('html').send(renderErrorPage(err));
      return;
    }
    this.#details(res).clientId = app.clientId;
    const redirectUri = str(params.redirect_uri);
    if (!redirectUri || !app.redirectUris.some((r) => redirectMatches(r, redirectUri))) {
      const err = new EntraError(
        400,
        'invalid_request',
        50011,
        `The redirect URI '${redirectUri ?? ''}' specified in the request does not match the redirect URIs configured for the application '${app.clientId}'.`,
      );
      this.#details(res).error = `${err.error} AADSTS${err.aadsts}`;
      res.status(400).type('html').send(renderErrorPage(err));
      return;
    }
    const state = str(params.state);
    const responseMode = str(params.response_mode) ?? 'query';
    const tx: AuthTx = {
      app,
      redirectUri,
      scope: str(params.scope) ?? 'openid profile',
      responseMode,
      expiresAt: Date.now() + TX_LIFETIME_MS,
      ...(state ? { state } : {}),
      ...(str(params.nonce) ? { nonce: str(params.nonce) } : {}),
      ...(str(params.code_challenge) ? { codeChallenge: str(params.code_challenge) } : {}),
      ...(str(params.code_challenge_method)
        ? { codeChallengeMethod: str(params.code_challenge_method) }
        : {}),
      ...(str(params.login_hint) ? { loginHint: str(params.login_hint) } : {}),
    };
    const responseType = str(params.response_type);
    if (responseType !== 'code') {
      this.#deliver(res, tx, {
        error: 'unsupported_response_type',
        error_description: 'AADSTS700054: response_type must be code.',
      });
      return;
    }
    if (tx.codeChallenge && tx.codeChallengeMethod && !['S256', 'plain'].includes(tx.codeChallengeMethod)) {
      this.#deliver(res, tx, {
        error: 'invalid_request',
        error_description: 'AADSTS501491: Invalid code_challenge_method.',
      });
      return;
    }
    if (str(params.prompt) === 'none') {
      const user = tx.loginHint ? this.findUser(tx.loginHint) : undefined;
      if (!user) {
        this.#deliver(res, tx, {
          error: 'login_required',
          error_description: 'AADSTS50058: A silent sign-in request was sent but no user is signed in.',
        });
        return;
      }
      this.#deliver(res, tx, { code: this.#issueCode(tx, user) });
      return;
    }
    for (const [key, value] of this.#tx) if (value.expiresAt < Date.now()) this.#tx.delete(key);
    const txId = randomBytes(18).toString('base64url');
    this.#tx.set(txId, tx);
    res.set('Cache-Control', 'no-store');
    res.set(
      'Content-Security-Policy',
      "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'",
    );
    res.type('html').send(
      renderSignInPage({
        action: `${this.authority}/oauth2/v2.0/authorize`,
        txId,
        appName: app.name,
        scope: tx.scope,
        users: this.users,
        ...(tx.loginHint ? { loginHint: tx.loginHint } : {}),
      }),
    );
  }

  #authorizePost(req: Request, res: Response): void {
    this.#tenant(req);
    const body = (req.body ?? {}) as Record<string, unknown>;
    const txId = str(body.tx);
    if (!txId) {
      // A form_post style authorize request (parameters in the body).
      this.#authorize(req, res, body);
      return;
    }
    const tx = this.#tx.get(txId);
    if (!tx || tx.expiresAt < Date.now()) {
      const err = new EntraError(
        400,
        'invalid_request',
        50058,
        'The sign-in session expired or is unknown. Start the sign-in again.',
      );
      this.#details(res).error = `${err.error} AADSTS${err.aadsts}`;
      res.status(400).type('html').send(renderErrorPage(err));
      return;
    }
    this.#tx.delete(txId);
    this.#details(res).clientId = tx.app.clientId;
    if (str(body.action) === 'cancel') {
      this.#deliver(res, tx, {
        error: 'access_denied',
        error_description: 'AADSTS65004: User declined to consent to access the app.',
      });
      return;
    }
    const user = this.findUser(str(body.user) ?? '');
    if (!user) {
      const err = new EntraError(
        400,
        'invalid_request',
        50034,
        'The user account does not exist in this directory.',
      );
      this.#details(res).error = `${err.error} AADSTS${err.aadsts}`;
      res.status(400).type('html').send(renderErrorPage(err));
      return;
    }
    this.#details(res).note = `user=${user.upn}`;
    this.#deliver(res, tx, { code: this.#issueCode(tx, user) });
  }

  #issueCode(tx: AuthTx, user: DemoUser): string {
    for (const [key, value] of this.#codes) if (value.expiresAt < Date.now()) this.#codes.delete(key);
    const code = `1.dev-entra.${randomBytes(32).toString('base64url')}`;
    this.#codes.set(code, {
      clientId: tx.app.clientId,
      redirectUri: tx.redirectUri,
      scope: tx.scope,
      user,
      expiresAt: Date.now() + CODE_LIFETIME_MS,
      used: false,
      ...(tx.nonce ? { nonce: tx.nonce } : {}),
      ...(tx.codeChallenge ? { codeChallenge: tx.codeChallenge } : {}),
      ...(tx.codeChallengeMethod
        ? { codeChallengeMethod: tx.codeChallengeMethod }
        : { codeChallengeMethod: 'plain' }),
    });
    this.#stats.codesIssued += 1;
    return code;
  }

  /** Sends the authorization response to the redirect URI (query, fragment or form_post). */
  #deliver(res: Response, tx: AuthTx, params: Record<string, string>): void {
    const all: Record<string, string> = { ...params };
    if (params.code) all.session_state = randomUUID();
    if (tx.state !== undefined) all.state = tx.state;
    if (params.error) this.#details(res).error = params.error;
    if (tx.responseMode === 'form_post') {
      res.set('Cache-Control', 'no-store');
      res.type('html').send(renderFormPost(tx.redirectUri, all));
      return;
    }
    const target = new URL(tx.redirectUri);
    if (tx.responseMode === 'fragment') {
      target.hash = new URLSearchParams(all).toString();
    } else {
      for (const [key, value] of Object.entries(all)) target.searchParams.set(key, value);
    }
    res.set('Cache-Control', 'no-store');
    res.redirect(302, target.toString());
  }

  #logout(req: Request, res: Response, params: Record<string, unknown>): void {
    this.#tenant(req);
    const target = str(params.post_logout_redirect_uri);
    const state = str(params.state);
    if (target) {
      let allowed = false;
      try {
        const url = new URL(target);
        allowed = [...this.#apps.values()].some((app) =>
          app.redirectUris.some((r) => {
            try {
              const registered = new URL(r);
              return (
                registered.origin === url.origin ||
                (isLoopbackHttp(registered) && isLoopbackHttp(url) && registered.hostname === url.hostname)
              );
            } catch {
              return false;
            }
          }),
        );
        if (allowed) {
          if (state) url.searchParams.set('state', state);
          res.redirect(302, url.toString());
          return;
        }
      } catch {
        allowed = false;
      }
    }
    res.type('html').send(renderSignedOutPage());
  }

  // ---------------------------------------------------------------- control endpoints

  #controlRouter(): express.Router {
    const router = express.Router();
    const num = (value: unknown, name: string): number => {
      const n = Number(value);
      if (!Number.isFinite(n))
        throw new EntraError(400, 'invalid_request', 900144, `'${name}' must be a number`);
      return n;
    };
    const body = (req: Request): Record<string, unknown> => (req.body ?? {}) as Record<string, unknown>;
    router.get('/state', (_req, res) => {
      res.json(this.state);
    });
    router.get('/stats', (_req, res) => {
      res.json(this.stats());
    });
    router.post('/stats/reset', (_req, res) => {
      this.resetStats();
      res.json(this.stats());
    });
    router.get('/log', (req, res) => {
      const limit = req.query.limit ? Number(req.query.limit) : this.#logLimit;
      res.json(this.#log.slice(-Math.max(1, limit)));
    });
    router.post('/log/clear', (_req, res) => {
      this.clearRequestLog();
      res.json({ ok: true });
    });
    router.post('/token-lifetime', (req, res) => {
      this.setTokenLifetime(num(body(req).seconds, 'seconds'));
      res.json(this.state);
    });
    router.post('/latency', (req, res) => {
      this.setLatency(num(body(req).ms, 'ms'));
      res.json(this.state);
    });
    router.post('/fail-next', (req, res) => {
      const b = body(req);
      this.failNext(num(b.count, 'count'), b.status === undefined ? 503 : num(b.status, 'status'));
      res.json(this.state);
    });
    router.post('/retry-after', (req, res) => {
      this.setRetryAfter(num(body(req).seconds, 'seconds'));
      res.json(this.state);
    });
    router.post('/down', async (req, res) => {
      const b = body(req);
      const down = b.down === undefined ? true : b.down === true || b.down === 'true';
      const mode = (str(b.mode) ?? 'unavailable') as DownMode;
      if (!['unavailable', 'refuse', 'reset'].includes(mode)) {
        throw new EntraError(400, 'invalid_request', 900144, "'mode' must be unavailable, refuse or reset");
      }
      const forMs = b.forMs === undefined ? undefined : num(b.forMs, 'forMs');
      const state = { ...this.state, down: { down, mode } };
      if (down && mode === 'refuse') {
        // Answer first: the listener is closed right after.
        res.json(state);
        res.on('finish', () => void this.setDown(down, mode, forMs === undefined ? {} : { forMs }));
        return;
      }
      await this.setDown(down, mode, forMs === undefined ? {} : { forMs });
      res.json(this.state);
    });
    router.post('/up', async (_req, res) => {
      await this.setDown(false);
      res.json(this.state);
    });
    router.get('/apps', (_req, res) => {
      res.json(this.listApps().map(({ clientSecret: _secret, ...rest }) => rest));
    });
    router.post('/apps', (req, res) => {
      res.status(201).json(this.registerApp(body(req) as RegisterAppOptions));
    });
    router.get('/users', (_req, res) => {
      res.json(this.users);
    });
    router.post('/federated-token', (req, res) => {
      const b = body(req);
      const subject = str(b.subject);
      if (!subject) throw errors.missingParameter('subject');
      const audience = str(b.audience);
      const token = this.issueFederatedToken({
        subject,
        ...(audience ? { audience } : {}),
        ...(b.expiresInSeconds !== undefined
          ? { expiresInSeconds: num(b.expiresInSeconds, 'expiresInSeconds') }
          : {}),
      });
      res.json({ token });
    });
    router.post('/client-certificate', async (req, res) => {
      const subject = str(body(req).subject);
      res.json(await this.createClientCertificate(subject ? { subject } : {}));
    });
    router.post('/revoke-refresh-tokens', (_req, res) => {
      this.revokeRefreshTokens();
      res.json({ ok: true });
    });
    return router;
  }
}

/** Starts dev-entra (see DevEntraOptions). */
export function startDevEntra(options: DevEntraOptions = {}): Promise<DevEntra> {
  return DevEntra.start(options);
}
