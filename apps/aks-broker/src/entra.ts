// Entra through MSAL: the sign-in URL, code redemption and user-scoped AKS tokens. The broker is a
// confidential client proving itself with the workload-identity token file (re-read on every use).
// Each operation builds a ConfidentialClientApplication bound to ONE cache partition (MSAL's
// distributed-cache pattern), so an acquisition can only ever see that sign-in's account.
import { readFile } from 'node:fs/promises';
import {
  ConfidentialClientApplication,
  CryptoProvider,
  InteractionRequiredAuthError,
  LogLevel,
  type AuthenticationResult,
  type Configuration,
} from '@azure/msal-node';
import { AuthError, ServiceUnavailableError, type Logger } from '@auth-sidecars/service-kit';
import { SIGN_IN_SCOPES } from './constants.js';
import { IDP_TIMEOUT_CODE, TimedNetworkClient } from './entra-http.js';
import type { TokenCachePartitions } from './token-cache.js';
import type { SessionUser } from './sessions.js';

export interface EntraOptions {
  clientId: string;
  tenantId: string;
  authorityHost: string;
  federatedTokenFile: string;
  aksScope: string;
  redirectUri: string;
  /** Every call to the identity provider (metadata, token endpoint) must answer within this. */
  timeoutMs: number;
  logger: Logger;
  /** Called with 'success' | 'failure' per AKS token acquisition (metrics). */
  onAcquire?: (result: 'success' | 'failure' | 'reauth') => void;
}

interface AuthorityMetadata {
  raw: string;
  endSessionEndpoint?: string;
}

/** The user must sign in again (no account, refresh token gone or refused): 401 for the browser. */
export class SignInRequiredError extends AuthError {
  constructor(message = 'sign in again to continue') {
    super(message, 'login_required', { 'x-login-url': '/login' });
  }
}

export class EntraClient {
  readonly authority: string;
  readonly crypto = new CryptoProvider();
  private readonly log: Logger;
  private metadata?: Promise<AuthorityMetadata>;
  private metadataLoaded = false;
  private readonly inFlight = new Map<string, Promise<AuthenticationResult>>();
  private readonly networkClient: TimedNetworkClient;

  constructor(
    private readonly options: EntraOptions,
    private readonly partitions: TokenCachePartitions,
  ) {
    this.authority = `${options.authorityHost}/${options.tenantId}`;
    this.log = options.logger.child({ component: 'entra' });
    this.networkClient = new TimedNetworkClient(options.timeoutMs);
  }

  /** True once the authority's OpenID metadata has been loaded (readiness). */
  get ready(): boolean {
    return this.metadataLoaded;
  }

  /**
   * Loads the authority's OpenID configuration once, so per-request MSAL clients never fetch it
   * (and never try instance discovery on the internet). Retried on the next call after a failure.
   */
  loadMetadata(): Promise<AuthorityMetadata> {
    this.metadata ??= (async () => {
      const url = `${this.authority}/v2.0/.well-known/openid-configuration`;
      const response = await fetch(url, { signal: AbortSignal.timeout(this.options.timeoutMs) });
      if (!response.ok) throw new Error(`GET ${url}: ${response.status}`);
      const json = (await response.json()) as { end_session_endpoint?: string; token_endpoint?: string };
      if (!json.token_endpoint) throw new Error(`${url}: no token_endpoint`);
      this.metadataLoaded = true;
      this.log.info('authority metadata loaded', { authority: this.authority });
      return { raw: JSON.stringify(json), endSessionEndpoint: json.end_session_endpoint };
    })().catch((error: unknown) => {
      this.metadata = undefined;
      throw new ServiceUnavailableError('identity provider unreachable', 'idp_unavailable', { cause: error });
    });
    return this.metadata;
  }

  private async client(partition?: string): Promise<ConfidentialClientApplication> {
    const metadata = await this.loadMetadata();
    const federatedTokenFile = this.options.federatedTokenFile;
    const log = this.log;
    const configuration: Configuration = {
      auth: {
        clientId: this.options.clientId,
        authority: this.authority,
        knownAuthorities: [new URL(this.options.authorityHost).host],
        authorityMetadata: metadata.raw,
        // Read on every use: the kubelet rotates the projected token file (about hourly).
        clientAssertion: async () => (await readFile(federatedTokenFile, 'utf8')).trim(),
      },
      system: {
        networkClient: this.networkClient,
        loggerOptions: {
          piiLoggingEnabled: false,
          logLevel: LogLevel.Warning,
          loggerCallback: (level, message) => {
            if (level <= LogLevel.Warning) log.warn('msal', { msal: message });
          },
        },
      },
    };
    if (partition !== undefined) configuration.cache = { cachePlugin: this.partitions.plugin(partition) };
    return new ConfidentialClientApplication(configuration);
  }

  /** PKCE S256 pair (verifier stays server side in the login state). */
  generatePkce(): Promise<{ verifier: string; challenge: string }> {
    return this.crypto.generatePkceCodes();
  }

  async authCodeUrl(params: {
    state: string;
    nonce: string;
    codeChallenge: string;
    prompt?: string;
  }): Promise<string> {
    const app = await this.client();
    return app.getAuthCodeUrl({
      scopes: [...SIGN_IN_SCOPES],
      redirectUri: this.options.redirectUri,
      state: params.state,
      nonce: params.nonce,
      codeChallenge: params.codeChallenge,
      codeChallengeMethod: 'S256',
      responseMode: 'query',
      ...(params.prompt ? { prompt: params.prompt } : {}),
    });
  }

  /**
   * Redeems the authorization code (PKCE verifier, state compared by MSAL, nonce checked in the ID
   * token) into the given, new, cache partition. Returns who signed in.
   */
  async redeem(
    params: { code: string; state: string; returnedState: string; codeVerifier: string; nonce: string },
    partition: string,
  ): Promise<SessionUser> {
    const app = await this.client(partition);
    let result: AuthenticationResult;
    try {
      result = await app.acquireTokenByCode(
        {
          scopes: [...SIGN_IN_SCOPES],
          redirectUri: this.options.redirectUri,
          code: params.code,
          codeVerifier: params.codeVerifier,
          state: params.state,
          nonce: params.nonce,
        },
        { code: params.code, state: params.returnedState, nonce: params.nonce },
      );
    } catch (error) {
      this.log.warn('code redemption failed', { reason: describe(error) });
      if (isIdpTimeout(error))
        throw new ServiceUnavailableError(
          'the identity provider did not answer in time; try again',
          'idp_timeout',
          {
            cause: error,
          },
        );
      throw new AuthError('sign-in could not be completed', 'sign_in_failed');
    }
    const account = result.account;
    const claims = (result.idTokenClaims ?? {}) as Record<string, unknown>;
    if (!account) throw new AuthError('sign-in returned no account', 'sign_in_failed');
    const str = (v: unknown) => (typeof v === 'string' ? v : '');
    return {
      oid: str(claims.oid) || account.localAccountId,
      tid: str(claims.tid) || account.tenantId,
      name: str(claims.name) || account.name || account.username,
      username: str(claims.preferred_username) || str(claims.upn) || account.username,
      homeAccountId: account.homeAccountId,
    };
  }

  /**
   * A user-scoped AKS token from this sign-in's partition only: cached until near expiry, refreshed
   * with the refresh token. Single-flight per partition. SignInRequiredError when that cannot work.
   */
  async aksToken(user: SessionUser, partition: string): Promise<AuthenticationResult> {
    const existing = this.inFlight.get(partition);
    if (existing) return existing;
    const pending = this.acquireSilent(user, partition).finally(() => this.inFlight.delete(partition));
    this.inFlight.set(partition, pending);
    return pending;
  }

  private async acquireSilent(user: SessionUser, partition: string): Promise<AuthenticationResult> {
    const app = await this.client(partition);
    const account = await app.getTokenCache().getAccountByHomeId(user.homeAccountId);
    if (!account) {
      this.options.onAcquire?.('reauth');
      throw new SignInRequiredError();
    }
    try {
      const result = await app.acquireTokenSilent({ account, scopes: [this.options.aksScope] });
      if (!result?.accessToken) throw new InteractionRequiredAuthError('no_tokens_found', '');
      this.options.onAcquire?.('success');
      return result;
    } catch (error) {
      if (isReauth(error)) {
        this.options.onAcquire?.('reauth');
        this.log.info('silent acquisition needs a new sign-in', { oid: user.oid, reason: describe(error) });
        throw new SignInRequiredError();
      }
      this.options.onAcquire?.('failure');
      this.log.warn('AKS token acquisition failed', { oid: user.oid, reason: describe(error) });
      throw new ServiceUnavailableError('could not get a token for the cluster', 'token_unavailable', {
        cause: error,
      });
    }
  }

  /** Entra's end-session URL (falls back to the v2 path when the metadata has none). */
  async logoutUrl(postLogoutRedirectUri: string): Promise<string> {
    let endpoint = `${this.authority}/oauth2/v2.0/logout`;
    try {
      endpoint = (await this.loadMetadata()).endSessionEndpoint ?? endpoint;
    } catch {
      /* the local sign-out already happened; the default path is fine */
    }
    const url = new URL(endpoint);
    url.searchParams.set('post_logout_redirect_uri', postLogoutRedirectUri);
    return url.toString();
  }
}

function isIdpTimeout(error: unknown): boolean {
  return (error as { errorCode?: unknown } | undefined)?.errorCode === IDP_TIMEOUT_CODE;
}

function isReauth(error: unknown): boolean {
  if (error instanceof InteractionRequiredAuthError) return true;
  const e = error as { errorCode?: unknown; name?: unknown } | undefined;
  const code = typeof e?.errorCode === 'string' ? e.errorCode : '';
  // invalid_grant: refresh token revoked/expired; no_tokens_found/no_account: nothing to refresh with.
  return [
    'invalid_grant',
    'interaction_required',
    'login_required',
    'consent_required',
    'no_tokens_found',
    'no_account_in_silent_request',
    'refresh_token_expired',
    'bad_token',
  ].includes(code);
}

/** An error's name and code, never its full message (Entra messages can quote request values). */
function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const code = (error as { errorCode?: unknown }).errorCode;
  return typeof code === 'string' && code !== '' ? `${error.name}: ${code}` : error.name;
}
