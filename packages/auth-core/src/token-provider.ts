// TokenProvider: one access token for one scope, held in memory and refreshed ahead of expiry.
//
// Modelled on the token cycler of @azure/core-rest-pipeline, with what sidecars need on top: the
// hot path is a memory read, refresh is timer-driven (idle sidecars keep a fresh token too),
// concurrent demand collapses into one request, and a failing IdP is retried forever with
// jittered backoff while the old token stays in service until it really expires.
import type { AccessToken, TokenCredential } from '@azure/core-auth';
import type { Registry } from 'prom-client';
import { MAX_MARGIN_FRACTION, MAX_TIMER_DELAY_MS, TOKEN_PROVIDER_DEFAULTS } from './constants.js';
import {
  TokenAcquireTimeoutError,
  classifyAcquireError,
  describeAcquireError,
  tokenUnavailable,
  type AcquireFailureKind,
  type TokenUnavailableError,
} from './errors.js';
import { componentLogger } from './logger.js';
import type { LoggerLike } from './logger.js';
import { registerTokenMetrics } from './metrics.js';
import type { TokenMetrics } from './metrics.js';
import { backoffDelay, type RetryPolicy } from '@auth-sidecars/service-kit/backoff';
import { computeRefreshAt } from './refresh-policy.js';
import type { RefreshPolicy } from './refresh-policy.js';

export interface TokenProviderOptions {
  credential: TokenCredential;
  /** One scope, e.g. `https://cognitiveservices.azure.com/.default`. */
  scope: string;
  logger?: LoggerLike;
  /** When given, `auth_token_*` metrics labelled with this scope are exported there. */
  registry?: Registry;
  /** Refresh after this fraction of the lifetime when the IdP gives no refresh time (0.5). */
  refreshFraction?: number;
  /** Refresh no later than this long before expiry, lifetime permitting (5 min). */
  maxRefreshAheadMs?: number;
  /** Backoff after failures: full jitter under min(maxMs, initialMs * 2^(n-1)) (1 s, 60 s). */
  retry?: Partial<RetryPolicy>;
  /** Abort a token request after this long (30 s). */
  acquireTimeoutMs?: number;
  /**
   * A token this close to expiry counts as expired, so it does not run out in flight (1 s; at most
   * a tenth of the token's lifetime). Refresh timing is computed against this usable lifetime.
   */
  expiryMarginMs?: number;
  /**
   * invalidate() within this long after the last forced refresh returns the held token (or rejects
   * if there is none) instead of asking the IdP again: a proxy that calls invalidate() on every
   * upstream 401 cannot turn a 401 storm into a token request storm (5 s; 0 turns it off).
   */
  minForcedRefreshIntervalMs?: number;
  /**
   * With no valid token and a retry scheduled, getToken() starts an attempt itself when none ran in
   * this long (5 s), instead of failing until the backoff timer fires: under demand, recovery after
   * an IdP outage takes at most this long, while an idle provider keeps to the background backoff.
   */
  demandRetryIntervalMs?: number;
  /** Attempts `start()` makes (with backoff between them) before it rejects (3). */
  startAttempts?: number;
  /** Source of jitter, [0, 1). */
  random?: () => number;
}

export interface TokenStatus {
  /** A token is held and not (about to be) expired. */
  valid: boolean;
  /** Expiry of the token held, even if it has expired. */
  expiresAt: Date | undefined;
  /** Next scheduled acquisition: the proactive refresh, or the next retry after a failure. */
  refreshAt: Date | undefined;
  lastRefreshAt: Date | undefined;
  /** Reason of the last failure, cleared by the next success. Never contains a secret. */
  lastError: string | undefined;
  consecutiveFailures: number;
}

type Reason = 'on-demand' | 'startup' | 'scheduled' | 'retry' | 'forced';

export class TokenProvider {
  readonly scope: string;
  readonly #credential: TokenCredential;
  readonly #log: LoggerLike;
  readonly #metrics: TokenMetrics | undefined;
  readonly #refreshPolicy: RefreshPolicy;
  readonly #retryPolicy: RetryPolicy;
  readonly #acquireTimeoutMs: number;
  readonly #expiryMarginMs: number;
  readonly #random: () => number;
  readonly #startAttempts: number;
  readonly #minForcedRefreshIntervalMs: number;
  readonly #demandRetryIntervalMs: number;
  #lastAttemptAt = Number.NEGATIVE_INFINITY;
  #lastForcedAt = Number.NEGATIVE_INFINITY;

  #token: AccessToken | undefined;
  /** Expiry minus the safety margin: the token is handed out until then. */
  #usableUntil = 0;
  #tokenRefreshAt: number | undefined;
  #nextAttemptAt: number | undefined;
  #lastRefreshAt: number | undefined;
  #lastError: string | undefined;
  #lastErrorKind: AcquireFailureKind = 'unknown';
  #failures = 0;
  #inflight: Promise<AccessToken> | undefined;
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;

  constructor(options: TokenProviderOptions) {
    const d = TOKEN_PROVIDER_DEFAULTS;
    if (!options.scope) throw new TypeError('TokenProvider: scope is required');
    this.scope = options.scope;
    this.#credential = options.credential;
    this.#log = componentLogger(options.logger, 'token-provider');
    this.#metrics = options.registry ? registerTokenMetrics(options.registry) : undefined;
    this.#refreshPolicy = {
      refreshFraction: options.refreshFraction ?? d.refreshFraction,
      maxRefreshAheadMs: options.maxRefreshAheadMs ?? d.maxRefreshAheadMs,
    };
    this.#retryPolicy = {
      initialMs: options.retry?.initialMs ?? d.retry.initialMs,
      maxMs: options.retry?.maxMs ?? d.retry.maxMs,
    };
    this.#acquireTimeoutMs = options.acquireTimeoutMs ?? d.acquireTimeoutMs;
    this.#expiryMarginMs = options.expiryMarginMs ?? d.expiryMarginMs;
    this.#random = options.random ?? Math.random;
    this.#startAttempts = Math.max(1, Math.floor(options.startAttempts ?? d.startAttempts));
    this.#minForcedRefreshIntervalMs = Math.max(
      0,
      options.minForcedRefreshIntervalMs ?? d.minForcedRefreshIntervalMs,
    );
    this.#demandRetryIntervalMs = Math.max(0, options.demandRetryIntervalMs ?? d.demandRetryIntervalMs);
    const f = this.#refreshPolicy.refreshFraction;
    if (!(f > 0 && f < 1))
      throw new RangeError(`TokenProvider: refreshFraction must be between 0 and 1, got ${f}`);
    if (!(this.#retryPolicy.initialMs > 0 && this.#retryPolicy.maxMs >= this.#retryPolicy.initialMs)) {
      throw new RangeError('TokenProvider: retry needs 0 < initialMs <= maxMs');
    }
    if (!(this.#acquireTimeoutMs > 0))
      throw new RangeError('TokenProvider: acquireTimeoutMs must be positive');
  }

  /**
   * Acquires the first token; rejects with TokenUnavailableError if it cannot be had within
   * `startAttempts` attempts (fail-fast startup: a blip does not crash-loop the pod, a wrong
   * credential fails within seconds). On failure nothing keeps running; on success refresh is
   * timer-driven from then on.
   */
  async start(): Promise<void> {
    this.#stopped = false;
    if (this.current()) {
      this.#resumeSchedule();
      return;
    }
    for (let attempt = 1; ; attempt += 1) {
      try {
        await this.#refresh('startup');
        return;
      } catch (error) {
        if (attempt >= this.#startAttempts || this.#stopped) {
          this.stop();
          throw error;
        }
        this.#clearTimer(); // start() paces its own attempts
        const delay = backoffDelay(attempt, this.#retryPolicy, this.#random);
        this.#nextAttemptAt = Date.now() + delay;
        await new Promise((resolve) => setTimeout(resolve, delay));
        if (this.current()) return; // e.g. an invalidate() succeeded meanwhile
        if (this.#stopped) throw error; // stop() during startup
      }
    }
  }

  /** Starts unready and keeps trying in the background (backoff forever); never throws. */
  startInBackground(): void {
    this.#stopped = false;
    if (this.current()) {
      this.#resumeSchedule();
      return;
    }
    this.#refresh('startup').catch(() => undefined); // failures are logged and retried by #onFailure
  }

  /**
   * The current token: a memory read when one is valid. Otherwise joins the acquisition in flight
   * or starts one (cold start: N callers, one request). Once acquisitions have failed and no valid
   * token is left, callers do not queue behind a failing IdP: the first caller after
   * `demandRetryIntervalMs` without an attempt starts one and waits for it, every other caller
   * fails fast with TokenUnavailableError (carrying retry-after) until a token is back.
   */
  getToken(): Promise<AccessToken> {
    const token = this.current();
    if (token) return Promise.resolve(token);
    if (this.#failures > 0 && (this.#timer !== undefined || this.#inflight !== undefined)) {
      if (this.#inflight === undefined && this.#demandAttemptDue(Date.now())) {
        return this.#refresh('on-demand');
      }
      return Promise.reject(this.#unavailable(this.#lastError ?? 'token acquisition failing'));
    }
    if (this.#inflight) return this.#inflight;
    return this.#refresh('on-demand');
  }

  /** The valid token held, if any; never starts a request. */
  current(): AccessToken | undefined {
    const token = this.#token;
    return token && this.#usableUntil > Date.now() ? token : undefined;
  }

  status(): TokenStatus {
    return {
      valid: this.current() !== undefined,
      expiresAt: toDate(this.#token?.expiresOnTimestamp),
      refreshAt: toDate(this.#nextAttemptAt),
      lastRefreshAt: toDate(this.#lastRefreshAt),
      lastError: this.#lastError,
      consecutiveFailures: this.#failures,
    };
  }

  /**
   * Forced refresh (e.g. the upstream answered 401 with a claims challenge): a new token request
   * now, or the one already in flight (single-flight). Within `minForcedRefreshIntervalMs` of the
   * last forced refresh it resolves with the held token instead (callers compare it with the one
   * they used), or rejects if none is held. The held token stays in service meanwhile; on failure
   * it is kept (until expiry), the promise rejects and the retry loop takes over.
   */
  invalidate(): Promise<AccessToken> {
    if (this.#inflight) return this.#inflight;
    const now = Date.now();
    if (now - this.#lastForcedAt < this.#minForcedRefreshIntervalMs) {
      const token = this.current();
      if (token) return Promise.resolve(token);
      return Promise.reject(this.#unavailable(this.#lastError ?? 'no token held'));
    }
    this.#lastForcedAt = now;
    return this.#refresh('forced');
  }

  /**
   * Stops background refresh and retries (timers cleared). A request in flight completes. The
   * scope's expiry gauge is removed, so a provider dropped by an app (token-server evicting a
   * scope) does not leave a series behind that alerts as "token about to expire".
   */
  stop(): void {
    this.#stopped = true;
    this.#clearTimer();
    this.#nextAttemptAt = undefined;
    this.#metrics?.expiry.remove({ scope: this.scope });
  }

  #refresh(reason: Reason): Promise<AccessToken> {
    if (this.#inflight) return this.#inflight;
    this.#clearTimer();
    this.#lastAttemptAt = Date.now();
    const startedAt = performance.now();
    const promise: Promise<AccessToken> = this.#acquire()
      .then(
        (token) => this.#onSuccess(token, reason, startedAt),
        (error: unknown) => {
          throw this.#onFailure(error, reason, startedAt);
        },
      )
      .finally(() => {
        if (this.#inflight === promise) this.#inflight = undefined;
      });
    this.#inflight = promise;
    return promise;
  }

  async #acquire(): Promise<AccessToken> {
    const controller = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        reject(new TokenAcquireTimeoutError(this.#acquireTimeoutMs));
        controller.abort();
      }, this.#acquireTimeoutMs);
    });
    try {
      const token = await Promise.race([
        this.#credential.getToken(this.scope, { abortSignal: controller.signal }),
        timeout,
      ]);
      if (!token?.token) throw new Error('the credential returned no token');
      if (token.expiresOnTimestamp <= Date.now()) {
        throw new Error(
          `the credential returned a token that is already expired (expiresOn ${new Date(token.expiresOnTimestamp).toISOString()})`,
        );
      }
      return token;
    } finally {
      clearTimeout(timer);
    }
  }

  #onSuccess(token: AccessToken, reason: Reason, startedAt: number): AccessToken {
    const now = Date.now();
    const durationMs = performance.now() - startedAt;
    const recovered = this.#failures > 0;
    const margin = Math.min(this.#expiryMarginMs, (token.expiresOnTimestamp - now) * MAX_MARGIN_FRACTION);
    this.#token = token;
    this.#usableUntil = token.expiresOnTimestamp - margin;
    this.#lastRefreshAt = now;
    this.#failures = 0;
    this.#lastError = undefined;
    this.#tokenRefreshAt = computeRefreshAt(
      { ...token, expiresOnTimestamp: this.#usableUntil },
      now,
      this.#refreshPolicy,
    );
    this.#schedule(this.#tokenRefreshAt, 'scheduled');
    this.#metrics?.refreshes.inc({ scope: this.scope, result: 'success' });
    this.#metrics?.acquireDuration.observe({ scope: this.scope }, durationMs / 1000);
    if (!this.#stopped) this.#metrics?.expiry.set({ scope: this.scope }, token.expiresOnTimestamp / 1000);
    this.#log.info(recovered ? 'token acquired after failures' : 'token acquired', {
      scope: this.scope,
      reason,
      durationMs: Math.round(durationMs),
      expiresAt: new Date(token.expiresOnTimestamp).toISOString(),
      refreshAt: new Date(this.#tokenRefreshAt).toISOString(),
    });
    return token;
  }

  #onFailure(error: unknown, reason: Reason, startedAt: number): TokenUnavailableError {
    const durationMs = performance.now() - startedAt;
    this.#failures += 1;
    this.#lastErrorKind = classifyAcquireError(error);
    this.#lastError = describeAcquireError(error, { succeededBefore: this.#lastRefreshAt !== undefined });
    const retryInMs = backoffDelay(this.#failures, this.#retryPolicy, this.#random);
    this.#schedule(Date.now() + retryInMs, 'retry');
    this.#metrics?.refreshes.inc({ scope: this.scope, result: 'failure' });
    this.#metrics?.acquireDuration.observe({ scope: this.scope }, durationMs / 1000);
    const held = this.current();
    const meta = {
      scope: this.scope,
      reason,
      error: this.#lastError,
      consecutiveFailures: this.#failures,
      retryInMs: this.#stopped ? undefined : retryInMs,
      tokenExpiresAt: held ? new Date(held.expiresOnTimestamp).toISOString() : undefined,
    };
    if (held) this.#log.warn('token refresh failed; keeping the current token until it expires', meta);
    else this.#log.error('token acquisition failed; no valid token', meta);
    return tokenUnavailable(this.#lastErrorKind, this.scope, this.#lastError, {
      cause: error,
      retryAt: this.#retryAt(),
    });
  }

  /** A demand-driven attempt is allowed: none ran in the last `demandRetryIntervalMs`. */
  #demandAttemptDue(now: number): boolean {
    return now - this.#lastAttemptAt >= this.#demandRetryIntervalMs;
  }

  /**
   * When asking again may help: the scheduled retry, or sooner the moment a caller may start an
   * attempt itself. A client honouring Retry-After then returns just as recovery becomes possible.
   */
  #retryAt(): number | undefined {
    if (this.#stopped) return undefined;
    const demandAt = this.#lastAttemptAt + this.#demandRetryIntervalMs;
    return this.#nextAttemptAt === undefined ? demandAt : Math.min(this.#nextAttemptAt, demandAt);
  }

  #unavailable(reason: string): TokenUnavailableError {
    return tokenUnavailable(this.#lastErrorKind, this.scope, reason, { retryAt: this.#retryAt() });
  }

  #resumeSchedule(): void {
    if (this.#token) this.#metrics?.expiry.set({ scope: this.scope }, this.#token.expiresOnTimestamp / 1000);
    if (this.#timer || this.#inflight) return;
    if (this.#failures > 0) this.#schedule(Date.now(), 'retry');
    else if (this.#tokenRefreshAt !== undefined) this.#schedule(this.#tokenRefreshAt, 'scheduled');
  }

  #schedule(at: number, reason: Reason): void {
    this.#clearTimer();
    if (this.#stopped) {
      this.#nextAttemptAt = undefined;
      return;
    }
    this.#nextAttemptAt = at;
    const delay = Math.min(MAX_TIMER_DELAY_MS, Math.max(0, at - Date.now()));
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      // Delays beyond setTimeout's ceiling are clamped; wake up again instead of refreshing early.
      if (at - Date.now() > 1_000) this.#schedule(at, reason);
      else this.#refresh(reason).catch(() => undefined); // logged and rescheduled by #onFailure
    }, delay);
    this.#timer.unref();
  }

  #clearTimer(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}

function toDate(epochMs: number | undefined): Date | undefined {
  return epochMs === undefined ? undefined : new Date(epochMs);
}
