// One token provider per scope, created on first use and kept in a bounded LRU, so the IdP sees one
// request per scope per refresh no matter how many callers there are. Enforces the minimum
// remaining lifetime of a handed-out token by forcing a refresh first (the provider's invalidate()
// collapses concurrent forced refreshes into one and spaces them out; nothing here repeats that).
import type { AccessToken } from '@azure/core-auth';
import { TOKEN_UNAVAILABLE, TokenUnavailableError } from '@auth-sidecars/auth-core';
import { ServiceUnavailableError } from '@auth-sidecars/service-kit';
import { LRUCache } from 'lru-cache';

/** The slice of auth-core's TokenProvider this module uses. */
export interface ScopeProvider {
  start(): Promise<void>;
  startInBackground(): void;
  getToken(): Promise<AccessToken>;
  current(): AccessToken | undefined;
  invalidate(): Promise<AccessToken>;
  status(): {
    valid: boolean;
    expiresAt?: Date | undefined;
    lastError?: string | undefined;
    consecutiveFailures: number;
  };
  stop(): void;
}

export interface ScopeTokensStatus {
  /** Scopes with a live provider (warm ones included). */
  providers: number;
  /** Of those, how many hold a valid token. */
  valid: number;
  /** TOKEN_SERVER_WARM_SCOPES, and how many of them hold a valid token. */
  warm: number;
  warmValid: number;
}

export interface IssuedToken {
  token: AccessToken;
  /** True when no IdP round trip was needed for this answer. */
  cacheHit: boolean;
}

export interface ScopeTokensOptions {
  createProvider: (scope: string) => ScopeProvider;
  maxScopes: number;
  /** A provider nobody asked for in this long is stopped (its refreshes would cost IdP calls for nothing). */
  idleMs?: number;
  minValidityMs: number;
  /** Scopes started at boot, kept outside the LRU and retried forever; readiness waits for them. */
  warmScopes?: readonly string[];
  onEvict?: (scope: string) => void;
}

interface Entry {
  provider: ScopeProvider;
  ready: Promise<void>;
  /** The token our last forced refresh produced: forcing again would not get a longer one. */
  lastForced?: string | undefined;
}

/** Seconds an SDK should wait before asking again after a 503 (the throttling policies honour it). */
const RETRY_AFTER_SECONDS = 5;

/**
 * A 503 with Retry-After. When the provider said why (auth-core's TokenUnavailableError, e.g. "the
 * identity provider is unreachable"), that message is the answer's: the caller learns which side
 * is at fault.
 */
function unavailable(message: string, cause?: unknown): ServiceUnavailableError {
  const reason = cause instanceof TokenUnavailableError ? `${message}: ${cause.message}` : message;
  return new ServiceUnavailableError(reason, TOKEN_UNAVAILABLE, {
    cause,
    retryAfterSeconds: RETRY_AFTER_SECONDS,
  });
}

/** auth-core's HTTP-free TokenUnavailableError as the 503 the client gets, with the provider's retry-after. */
function asHttpError(err: unknown): unknown {
  if (!(err instanceof TokenUnavailableError)) return err;
  return new ServiceUnavailableError(err.message, err.code, {
    cause: err,
    retryAfterSeconds: err.retryAfterSeconds,
  });
}

export class ScopeTokens {
  private readonly lru: LRUCache<string, Entry>;
  private readonly pinned = new Map<string, Entry>();
  private readonly options: ScopeTokensOptions;

  constructor(options: ScopeTokensOptions) {
    this.options = options;
    this.lru = new LRUCache<string, Entry>({
      max: Math.max(1, options.maxScopes),
      ...(options.idleMs ? { ttl: options.idleMs, updateAgeOnGet: true, ttlAutopurge: true } : {}),
      dispose: (entry, scope) => {
        entry.provider.stop();
        options.onEvict?.(scope);
      },
    });
    for (const scope of options.warmScopes ?? []) {
      const provider = options.createProvider(scope);
      provider.startInBackground();
      this.pinned.set(scope, { provider, ready: Promise.resolve() });
    }
  }

  /** Number of scopes with a live provider. */
  get size(): number {
    return this.lru.size + this.pinned.size;
  }

  /** The token for `scope` when memory answers right now (no acquisition, no await), else undefined. */
  cached(scope: string): IssuedToken | undefined {
    const token = (this.pinned.get(scope) ?? this.lru.get(scope))?.provider.current();
    return token && this.longEnough(token) ? { token, cacheHit: true } : undefined;
  }

  async get(scope: string): Promise<IssuedToken> {
    const entry = this.entry(scope);
    const peek = entry.provider.current();
    let cacheHit = peek !== undefined && this.longEnough(peek);
    try {
      await entry.ready;
    } catch (err) {
      throw unavailable('no token available for this scope', err);
    }
    let token = await entry.provider.getToken().catch((err: unknown) => {
      throw asHttpError(err);
    });
    if (!this.longEnough(token) && token.token !== entry.lastForced) {
      cacheHit = false;
      token = await this.forceRefresh(entry);
    }
    if (token.expiresOnTimestamp <= Date.now()) {
      throw unavailable('no token available for this scope');
    }
    return { token, cacheHit };
  }

  /**
   * Counts for /readyz, which anyone who can reach the port may call: how many providers, how many
   * warm scopes hold a valid token. Never which scopes (that would tell a caller without a secret
   * what the server hands out); those are in the logs and, per scope, in /metrics.
   */
  status(): ScopeTokensStatus {
    let warmValid = 0;
    for (const entry of this.pinned.values()) if (entry.provider.status().valid) warmValid += 1;
    let valid = warmValid;
    for (const entry of this.lru.values()) if (entry.provider.status().valid) valid += 1;
    return { providers: this.size, valid, warm: this.pinned.size, warmValid };
  }

  /**
   * Ready when every warm scope holds a valid token (trivially true without warm scopes). A warm
   * scope without one is asked for it: an unready server gets no traffic through its Service, so
   * the probe is the demand that lets its provider try again within demandRetryIntervalMs rather
   * than at the background backoff (up to 60 s).
   */
  ready(): boolean {
    let ready = true;
    for (const entry of this.pinned.values()) {
      if (entry.provider.status().valid) continue;
      ready = false;
      entry.provider.getToken().catch(() => undefined);
    }
    return ready;
  }

  stop(): void {
    for (const entry of this.pinned.values()) entry.provider.stop();
    this.pinned.clear();
    this.lru.clear();
  }

  private entry(scope: string): Entry {
    const existing = this.pinned.get(scope) ?? this.lru.get(scope);
    if (existing) return existing;
    const provider = this.options.createProvider(scope);
    const entry: Entry = { provider, ready: provider.start() };
    // A failed first acquisition must not stick: drop the entry so the next caller tries afresh.
    entry.ready.catch(() => {
      if (this.lru.peek(scope) === entry) this.lru.delete(scope);
    });
    this.lru.set(scope, entry);
    return entry;
  }

  private longEnough(token: AccessToken): boolean {
    return token.expiresOnTimestamp - Date.now() >= this.options.minValidityMs;
  }

  private async forceRefresh(entry: Entry): Promise<AccessToken> {
    try {
      const token = await entry.provider.invalidate();
      entry.lastForced = token.token;
      return token;
    } catch (err) {
      throw unavailable('token too close to expiry and the refresh failed', err);
    }
  }
}
