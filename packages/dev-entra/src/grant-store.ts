// What the authorization code flow remembers between requests: sign-in transactions (authorize page
// to its form post), authorization codes (single use) and refresh tokens (rotating).
import { randomBytes } from 'node:crypto';
import { CODE_LIFETIME_MS } from './constants.js';
import type { DemoUser } from './model.js';
import type { AppRecord } from './registry.js';

export interface AuthTx {
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

export interface CodeRecord {
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

export interface RefreshRecord {
  clientId: string;
  user: DemoUser;
  scope: string;
  expiresAt: number;
}

export class GrantStore {
  readonly #refreshLifetimeMs: number;
  readonly #tx = new Map<string, AuthTx>();
  readonly #codes = new Map<string, CodeRecord>();
  readonly #refreshTokens = new Map<string, RefreshRecord>();

  constructor(refreshLifetimeSeconds: number) {
    this.#refreshLifetimeMs = refreshLifetimeSeconds * 1000;
  }

  /** Keeps a sign-in transaction for the sign-in page's form post; returns its id. */
  saveTransaction(tx: AuthTx): string {
    for (const [key, value] of this.#tx) if (value.expiresAt < Date.now()) this.#tx.delete(key);
    const txId = randomBytes(18).toString('base64url');
    this.#tx.set(txId, tx);
    return txId;
  }

  /** The unexpired transaction, removed (a sign-in page is answered once). */
  takeTransaction(txId: string): AuthTx | undefined {
    const tx = this.#tx.get(txId);
    if (!tx || tx.expiresAt < Date.now()) return undefined;
    this.#tx.delete(txId);
    return tx;
  }

  issueCode(tx: AuthTx, user: DemoUser): string {
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
    return code;
  }

  /** The code's record, or undefined when unknown or expired (a used one is returned: the caller says so). */
  code(code: string): CodeRecord | undefined {
    const record = this.#codes.get(code);
    return !record || record.expiresAt < Date.now() ? undefined : record;
  }

  issueRefreshToken(clientId: string, user: DemoUser, scope: string): string {
    const refreshToken = `1.dev-entra.${randomBytes(32).toString('base64url')}`;
    this.#refreshTokens.set(refreshToken, {
      clientId,
      user,
      scope,
      expiresAt: Date.now() + this.#refreshLifetimeMs,
    });
    return refreshToken;
  }

  /** The refresh token's record when it is unexpired and was issued to `clientId`. */
  refreshToken(token: string, clientId: string): RefreshRecord | undefined {
    const record = this.#refreshTokens.get(token);
    return !record || record.expiresAt < Date.now() || record.clientId !== clientId ? undefined : record;
  }

  revokeRefreshTokens(): void {
    this.#refreshTokens.clear();
  }
}
