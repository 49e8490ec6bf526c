// dev-entra: a local, Entra ID compatible identity provider over HTTPS (see README.md). DevEntra is
// the facade: it owns the listener, the CA file and the instance's parts, and its methods are the
// in-process controls. The protocol lives in its own modules, one concern each (oidc-provider's
// layout): registry.ts (apps and users), claims.ts (what tokens say), client-auth.ts, the grants
// and endpoints under actions/, grant-store.ts, faults.ts (fault injection), request-log.ts.
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createApp } from './app.js';
import {
  createCertificateAuthority,
  createClientCertificate,
  createServerCertificate,
  type ClientCertificate,
} from './certs.js';
import { Claims, resourceOf, type IssueFederatedTokenOptions } from './claims.js';
import { DEFAULT_TENANT_ID, DEFAULT_TEST_CLIENT_ID, DEMO_USERS } from './constants.js';
import { Endpoints } from './endpoints.js';
import { Faults } from './faults.js';
import { GrantStore } from './grant-store.js';
import { createSigningKey, type SigningKey } from './jwt.js';
import type {
  AccessTokenClaims,
  DemoUser,
  DevEntraStats,
  DownMode,
  RegisterAppOptions,
  RegisteredApp,
  RequestLogEntry,
} from './model.js';
import type { Provider } from './provider.js';
import { Registry } from './registry.js';
import { RequestLog } from './request-log.js';
import { loadOrCreateState, type TlsMaterial } from './state.js';
import { trustDevEntraCa } from './trust.js';

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

  readonly #server: https.Server;
  readonly #sockets = new Set<Socket>();
  readonly #ownsCaDir: string | undefined;
  readonly #endpoints: Endpoints;
  readonly #registry: Registry;
  readonly #claims: Claims;
  readonly #grants: GrantStore;
  readonly #faults: Faults;
  readonly #requestLog: RequestLog;
  #closed = false;

  private constructor(
    options: DevEntraOptions,
    tls: { caPem: string; certPem: string; keyPem: string },
    keys: { signing: SigningKey; kubernetes: SigningKey },
  ) {
    this.tenantId = options.tenantId ?? DEFAULT_TENANT_ID;
    this.caPem = tls.caPem;
    this.#endpoints = new Endpoints(this.tenantId, options.host ?? '127.0.0.1');
    this.#registry = new Registry(options.users ?? DEMO_USERS);
    this.users = this.#registry.users;
    this.#claims = new Claims(this.#endpoints, keys, options.tokenLifetimeSeconds ?? 3600);
    this.#grants = new GrantStore(options.refreshTokenLifetimeSeconds ?? 86_400);
    this.#requestLog = new RequestLog(options.requestLogLimit ?? 1000, options.onRequest);
    this.#faults = new Faults({
      retryAfterSeconds: options.retryAfterSeconds ?? 1,
      requestLog: this.#requestLog,
      listener: {
        close: () => this.#stopListening(),
        reopen: () => this.#listen(this.#endpoints.port),
        closedForGood: () => this.#closed,
      },
    });
    if (options.caPath) {
      mkdirSync(dirname(options.caPath), { recursive: true });
      this.caPath = options.caPath;
      this.#ownsCaDir = undefined;
    } else {
      this.#ownsCaDir = mkdtempSync(join(tmpdir(), 'dev-entra-'));
      this.caPath = join(this.#ownsCaDir, 'ca.pem');
    }
    writeFileSync(this.caPath, this.caPem);
    const provider: Provider = {
      endpoints: this.#endpoints,
      registry: this.#registry,
      claims: this.#claims,
      grants: this.#grants,
      faults: this.#faults,
      requestLog: this.#requestLog,
    };
    this.#server = https.createServer({ cert: tls.certPem, key: tls.keyPem }, createApp(provider, this));
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
      this.#server.listen(port, this.#endpoints.host, () => {
        this.#server.off('error', onError);
        resolve();
      });
    });
    const address = this.#server.address();
    if (!address || typeof address === 'string') throw new Error('dev-entra: no listen address');
    this.#endpoints.listeningOn(address.port);
  }

  /** Closes the listener and every open connection (a `refuse` outage). */
  #stopListening(): Promise<void> {
    return new Promise<void>((resolve) => {
      this.#server.close(() => resolve());
      for (const socket of this.#sockets) socket.destroy();
    });
  }

  /** https://127.0.0.1:PORT - use as AZURE_AUTHORITY_HOST / authorityHost. */
  get url(): string {
    return this.#endpoints.url;
  }
  get port(): number {
    return this.#endpoints.port;
  }
  /** `${url}/${tenantId}` - the MSAL authority. */
  get authority(): string {
    return this.#endpoints.authority;
  }
  /** `${url}/${tenantId}/v2.0` - `iss` of access and id tokens. */
  get issuer(): string {
    return this.#endpoints.issuer;
  }
  get tokenEndpoint(): string {
    return this.#endpoints.tokenEndpoint;
  }
  get jwksUri(): string {
    return this.#endpoints.jwksUri;
  }
  /** Issuer of federated (Kubernetes service account style) tokens made by issueFederatedToken. */
  get kubernetesIssuer(): string {
    return this.#endpoints.kubernetesIssuer;
  }
  /** The access token signing key as a JWK set (what the JWKS endpoint serves). */
  get jwks(): { keys: Record<string, unknown>[] } {
    return this.#claims.jwks;
  }
  /** Copy of the request log (newest last). Secrets, assertions, codes and tokens are never logged. */
  get requestLog(): RequestLogEntry[] {
    return this.#requestLog.entries();
  }

  /** Trust dev-entra's CA in this process (tls.setDefaultCACertificates). */
  trust(): void {
    trustDevEntraCa(this.caPem);
  }

  // ---------------------------------------------------------------- apps and users (registry.ts)

  registerApp(options: RegisterAppOptions = {}): RegisteredApp {
    return this.#registry.registerApp(options);
  }

  getApp(clientId: string): RegisteredApp | undefined {
    return this.#registry.getApp(clientId);
  }

  listApps(): RegisteredApp[] {
    return this.#registry.listApps();
  }

  /** Registers more certificate(s) (PEM, bundles allowed) on an app: certificate rotation. */
  addAppCertificate(clientId: string, certificatePem: string): RegisteredApp {
    return this.#registry.addAppCertificate(clientId, certificatePem);
  }

  /** Removes a certificate (PEM or SHA-1 thumbprint hex) from an app. */
  removeAppCertificate(clientId: string, certificatePemOrThumbprint: string): RegisteredApp {
    return this.#registry.removeAppCertificate(clientId, certificatePemOrThumbprint);
  }

  /** Replaces an app's client secret. */
  setAppSecret(clientId: string, clientSecret: string | undefined): RegisteredApp {
    return this.#registry.setAppSecret(clientId, clientSecret);
  }

  /** A new self-signed client certificate (not registered: pass certPem to registerApp/addAppCertificate). */
  createClientCertificate(options?: { subject?: string; validDays?: number }): Promise<ClientCertificate> {
    return createClientCertificate(options);
  }

  /** Adds a demo user. */
  addUser(user: DemoUser): DemoUser {
    return this.#registry.addUser(user);
  }

  findUser(upnOrOid: string): DemoUser | undefined {
    return this.#registry.findUser(upnOrOid);
  }

  // ---------------------------------------------------------------- token minting (claims.ts)

  /**
   * A federated token (like a projected Kubernetes service account token) signed by dev-entra's
   * kubernetes issuer; accepted as client_assertion for apps registered with this federatedSubject.
   */
  issueFederatedToken(options: IssueFederatedTokenOptions): string {
    return this.#claims.federatedToken(options);
  }

  /** Mints an access token directly (no HTTP round trip), e.g. for gate tests. */
  issueAccessToken(options: IssueAccessTokenOptions): string {
    // A bare resource (`https://x`, a GUID) means its .default scope.
    const bare = /^[a-z][a-z0-9+.-]*:\/\/[^/]+\/?$/i.test(options.scope) || !options.scope.includes('/');
    const scope = bare ? `${options.scope.replace(/\/$/, '')}/.default` : options.scope;
    const { resource, permissions } = resourceOf([scope]);
    const clientId = options.clientId ?? DEFAULT_TEST_CLIENT_ID;
    const app = this.#registry.app(clientId);
    const lifetime = options.lifetimeSeconds ?? this.#claims.lifetimeSeconds;
    if (options.user) {
      const user = this.findUser(options.user);
      if (!user) throw new Error(`dev-entra: unknown user ${options.user}`);
      return this.#claims.userAccessToken(user, clientId, resource, permissions, lifetime, options.claims);
    }
    const roles = options.roles ?? app?.roles ?? [];
    return this.#claims.appAccessToken(
      clientId,
      app?.servicePrincipalId ?? clientId,
      resource,
      roles,
      '2',
      lifetime,
      options.claims,
    );
  }

  /** Verifies an access token issued by this dev-entra (in memory, no HTTP). */
  verifyAccessToken(
    token: string,
    options: { audience?: string | string[]; clockToleranceSeconds?: number } = {},
  ): Promise<AccessTokenClaims> {
    return this.#claims.verifyAccessToken(token, options);
  }

  // ---------------------------------------------------------------- run-time controls (faults.ts)

  setTokenLifetime(seconds: number): void {
    if (!(seconds > 0)) throw new Error('token lifetime must be > 0 seconds');
    this.#claims.lifetimeSeconds = Math.floor(seconds);
  }
  get tokenLifetimeSeconds(): number {
    return this.#claims.lifetimeSeconds;
  }

  /** Added latency (ms) before every token endpoint answer. */
  setLatency(ms: number): void {
    this.#faults.setLatency(ms);
  }

  /** The next `count` token requests fail with `status` (Entra error body; Retry-After on 429/5xx). */
  failNext(count: number, status = 503): void {
    this.#faults.failNext(count, status);
  }

  /** Retry-After seconds sent with injected 429/5xx answers. */
  setRetryAfter(seconds: number): void {
    this.#faults.setRetryAfter(seconds);
  }

  /**
   * Down until further notice. Modes: 'unavailable' (default) - every Entra endpoint answers 503 with
   * an Entra error body; 'reset' - connections are destroyed without an answer; 'refuse' - the listener
   * is closed (connection refused) and open sockets destroyed; /_control is unreachable until up again.
   * `forMs` brings it back up automatically. Resolves once the state is in effect.
   * In 'refuse' mode the timer that brings it back is the only thing left to keep a process alive (the
   * listener is closed), so it is not unref'd: a dev-entra CLI taken down for a while comes back.
   */
  setDown(down: boolean, mode: DownMode = 'unavailable', options: { forMs?: number } = {}): Promise<void> {
    return this.#faults.setDown(down, mode, options);
  }

  get state(): {
    tokenLifetimeSeconds: number;
    latencyMs: number;
    failNext: { remaining: number; status: number };
    down: { down: boolean; mode: DownMode };
    retryAfterSeconds: number;
  } {
    return { tokenLifetimeSeconds: this.#claims.lifetimeSeconds, ...this.#faults.state };
  }

  stats(): DevEntraStats {
    return this.#requestLog.stats();
  }

  resetStats(): void {
    this.#requestLog.resetStats();
  }

  clearRequestLog(): void {
    this.#requestLog.clear();
  }

  /** Revokes every refresh token (users must sign in again). */
  revokeRefreshTokens(): void {
    this.#grants.revokeRefreshTokens();
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#faults.stop();
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
}

/** Starts dev-entra (see DevEntraOptions). */
export function startDevEntra(options: DevEntraOptions = {}): Promise<DevEntra> {
  return DevEntra.start(options);
}
