// AuthServerCredential: a TokenCredential for any Azure SDK client, backed by token-server's
// `GET /token?scope=` endpoint and a shared secret. Tokens are cached per scope and refreshed
// ahead of expiry in the background (single-flight), so SDK calls rarely wait on the network.
import { readFile } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import type { AccessToken, GetTokenOptions, TokenCredential } from '@azure/core-auth';
import {
  DEFAULT_REFRESH_BEFORE_EXPIRY_MS,
  DEFAULT_TIMEOUT_MS,
  EXPIRY_SAFETY_MS,
  MAX_RESPONSE_BYTES,
  MIN_BACKGROUND_RETRY_MS,
  TOKEN_PATH,
} from './constants.js';
import { AuthServerError } from './errors.js';

export interface AuthServerCredentialOptions {
  /** Base URL of token-server, e.g. `http://127.0.0.1:8080` (the `/token` path is appended). */
  serverUrl: string;
  /** The client's shared secret (`AZD_AUTH_SECRET`). */
  secret?: string;
  /** File holding the secret; re-read on every request so a rotated Secret is picked up. */
  secretFile?: string;
  /** Refresh when less than this is left (default 5 minutes); never later than half the lifetime. */
  refreshBeforeExpiryMs?: number;
  /** Deadline of each request to token-server, connection to last byte (default 10 s). */
  timeoutMs?: number;
  /** Extra CA (PEM) to trust for an https token-server. `NODE_EXTRA_CA_CERTS` works as well. */
  ca?: string | Buffer;
}

interface CacheEntry {
  token: AccessToken;
  refreshAt: number;
  nextBackgroundAttempt: number;
}

interface TokenResponseBody {
  access_token?: unknown;
  expires_on?: unknown;
  expires_in?: unknown;
  token_type?: unknown;
}

export class AuthServerCredential implements TokenCredential {
  private readonly tokenUrl: URL;
  private readonly options: AuthServerCredentialOptions;
  private readonly cache = new Map<string, CacheEntry>();
  private readonly inflight = new Map<string, Promise<AccessToken>>();

  constructor(options: AuthServerCredentialOptions) {
    if (!options.secret && !options.secretFile)
      throw new TypeError('AuthServerCredential: secret or secretFile is required');
    const base = new URL(options.serverUrl);
    if (base.protocol !== 'http:' && base.protocol !== 'https:')
      throw new TypeError('AuthServerCredential: serverUrl must be http(s)');
    this.tokenUrl = new URL(TOKEN_PATH, base.href.endsWith('/') ? base : new URL(`${base.href}/`));
    this.options = options;
  }

  async getToken(scopes: string | string[], options?: GetTokenOptions): Promise<AccessToken> {
    const list = Array.isArray(scopes) ? scopes : [scopes];
    if (list.length !== 1 || !list[0])
      throw new AuthServerError(400, 'AuthServerCredential: exactly one scope per request is supported');
    const scope = list[0];
    const now = Date.now();
    const cached = this.cache.get(scope);
    if (cached && cached.token.expiresOnTimestamp - EXPIRY_SAFETY_MS > now) {
      if (now >= cached.refreshAt && now >= cached.nextBackgroundAttempt) {
        // Still valid: answer now, refresh behind the caller's back. A failure keeps the old token.
        cached.nextBackgroundAttempt = now + MIN_BACKGROUND_RETRY_MS;
        this.fetchOnce(scope).catch(() => undefined);
      }
      return cached.token;
    }
    return this.fetchOnce(scope, options?.abortSignal);
  }

  /** Drops cached tokens (e.g. after an upstream 401 with a claims challenge). */
  clear(): void {
    this.cache.clear();
  }

  private fetchOnce(scope: string, signal?: GetTokenOptions['abortSignal']): Promise<AccessToken> {
    let pending = this.inflight.get(scope);
    if (!pending) {
      pending = this.fetchToken(scope).finally(() => this.inflight.delete(scope));
      this.inflight.set(scope, pending);
    }
    if (!signal) return pending;
    // An aborted caller stops waiting; the shared request carries on for the others.
    return new Promise<AccessToken>((resolve, reject) => {
      if (signal.aborted) return reject(abortError());
      const onAbort = () => reject(abortError());
      signal.addEventListener('abort', onAbort, { once: true });
      pending.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
    });
  }

  private async fetchToken(scope: string): Promise<AccessToken> {
    const secret = this.options.secretFile
      ? (await readFile(this.options.secretFile, 'utf8')).trim()
      : this.options.secret!;
    const url = new URL(this.tokenUrl);
    url.searchParams.set('scope', scope);
    const { status, body } = await this.request(url, secret);
    let parsed: TokenResponseBody;
    try {
      parsed = JSON.parse(body) as TokenResponseBody;
    } catch {
      throw new AuthServerError(status, `token-server answered ${status} with a body that is not JSON`);
    }
    if (status !== 200) {
      const message = (parsed as { error?: { message?: unknown } }).error?.message;
      throw new AuthServerError(
        status,
        `token-server refused the token request (${status})${typeof message === 'string' ? `: ${message}` : ''}`,
      );
    }
    const token = parsed.access_token;
    const now = Date.now();
    const expiresOn = typeof token === 'string' ? expiryOf(parsed, token, now) : undefined;
    if (typeof token !== 'string' || token === '' || expiresOn === undefined) {
      throw new AuthServerError(
        status,
        'token-server response lacks access_token or an expiry (expires_on, a JWT exp or expires_in)',
      );
    }
    const expiresOnTimestamp = expiresOn * 1000;
    const lifetime = Math.max(0, expiresOnTimestamp - now);
    const before = this.options.refreshBeforeExpiryMs ?? DEFAULT_REFRESH_BEFORE_EXPIRY_MS;
    const refreshAt = Math.max(now, Math.min(expiresOnTimestamp - before, now + lifetime / 2));
    const accessToken: AccessToken = {
      token,
      expiresOnTimestamp,
      refreshAfterTimestamp: refreshAt,
      tokenType: 'Bearer',
    };
    // A background refresh set the throttle when it fired; keep it so a server that hands back the
    // same short-lived token cannot make us loop.
    const nextBackgroundAttempt = this.cache.get(scope)?.nextBackgroundAttempt ?? 0;
    this.cache.set(scope, { token: accessToken, refreshAt, nextBackgroundAttempt });
    return accessToken;
  }

  private request(url: URL, secret: string): Promise<{ status: number; body: string }> {
    const isHttps = url.protocol === 'https:';
    const timeout = this.options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    return new Promise((resolve, reject) => {
      const req = (isHttps ? https : http).request(
        url,
        {
          method: 'GET',
          headers: { authorization: `Bearer ${secret}`, accept: 'application/json' },
          ...(isHttps && this.options.ca ? { ca: this.options.ca } : {}),
        },
        (res) => {
          const chunks: Buffer[] = [];
          let size = 0;
          res.on('data', (chunk: Buffer) => {
            size += chunk.length;
            if (size > MAX_RESPONSE_BYTES)
              req.destroy(new AuthServerError(res.statusCode ?? 0, 'token-server response too large'));
            else chunks.push(chunk);
          });
          res.on('end', () =>
            resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }),
          );
          res.on('error', reject);
        },
      );
      // A deadline for the whole exchange: a socket idle timeout alone never fires for a server that
      // trickles its answer a byte at a time.
      const deadline = setTimeout(
        () => req.destroy(new AuthServerError(0, `token-server did not answer within ${timeout} ms`)),
        timeout,
      );
      req.on('close', () => clearTimeout(deadline));
      req.on('error', (err) =>
        reject(
          err instanceof AuthServerError
            ? err
            : new AuthServerError(0, `token-server unreachable: ${err.message}`, { cause: err }),
        ),
      );
      req.end();
    });
  }
}

function abortError(): Error {
  const err = new Error('The operation was aborted.');
  err.name = 'AbortError';
  return err;
}

/**
 * Epoch seconds at which the token expires. token-server answers `expires_on`; the azd auth server
 * (the seed) answers only `expires_in`, and its token is a JWT: its `exp` is then the truth, and
 * `expires_in` the last resort.
 */
function expiryOf(body: TokenResponseBody, token: string, now: number): number | undefined {
  if (body.expires_on !== undefined && body.expires_on !== null && body.expires_on !== '') {
    const expiresOn = Number(body.expires_on);
    return Number.isFinite(expiresOn) && expiresOn > 0 ? expiresOn : undefined;
  }
  const exp = jwtExpiry(token);
  if (exp !== undefined) return exp;
  const expiresIn = Number(body.expires_in);
  if (
    body.expires_in === undefined ||
    body.expires_in === null ||
    !Number.isFinite(expiresIn) ||
    expiresIn < 0
  )
    return undefined;
  return Math.floor(now / 1000) + expiresIn;
}

/** The `exp` claim of a JWT (decoded, not verified: the token is for the resource to check). */
function jwtExpiry(token: string): number | undefined {
  const payload = token.split('.')[1];
  if (!payload) return undefined;
  try {
    const exp = (JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as { exp?: unknown }).exp;
    return typeof exp === 'number' && Number.isFinite(exp) && exp > 0 ? exp : undefined;
  } catch {
    return undefined;
  }
}
