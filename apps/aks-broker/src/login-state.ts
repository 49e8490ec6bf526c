// Pending sign-ins live in the browser that began them: one short-lived cookie per sign-in, sealed
// (AES-256-GCM, the cookie's name as associated data), so only the broker can make or read one. A
// callback is honoured only with the cookie of its own state: a callback URL opened in another
// browser signs nobody in and ends nothing there (login CSRF). /login keeps nothing server side, so
// anonymous hits cost no memory and no Redis keys; a state is remembered only once it was redeemed.
import { createHash, timingSafeEqual } from 'node:crypto';
import { LOGIN_STATE_TTL_MS, MAX_PENDING_LOGINS, STORE_PREFIX } from './constants.js';
import { clearCookie, readCookies, serializeCookie } from './cookies.js';
import type { CryptoBox } from './crypto-box.js';
import { randomId } from './sessions.js';
import type { KeyValueStore } from './store.js';

export interface LoginState {
  state: string;
  codeVerifier: string;
  nonce: string;
  returnTo: string;
  createdAt: number;
}

export interface LoginStatesOptions {
  box: CryptoBox;
  /** Remembers redeemed states (single use across replicas). */
  store: KeyValueStore;
  /** The session cookie's name and Secure flag; login cookies are named after it. */
  cookie: { name: string; secure: boolean };
  ttlMs?: number;
  now?: () => number;
}

const digest = (value: string): string => createHash('sha256').update(value).digest('base64url');

export class LoginStates {
  readonly ttlMs: number;
  private readonly prefix: string;
  private readonly now: () => number;

  constructor(private readonly options: LoginStatesOptions) {
    this.ttlMs = options.ttlMs ?? LOGIN_STATE_TTL_MS;
    this.now = options.now ?? Date.now;
    // __Host- (Secure, Path=/, no Domain) wherever the cookie is Secure, as for the session cookie.
    const { name, secure } = options.cookie;
    this.prefix = `${secure && !name.startsWith('__Host-') ? '__Host-' : ''}${name}-login-`;
  }

  /** The cookie that carries `state` (named after its digest: the name reveals nothing). */
  cookieName(state: string): string {
    return this.prefix + digest(state).slice(0, 16);
  }

  /**
   * A new pending sign-in: its `state` and the Set-Cookie values to send (its cookie, plus the
   * removal of this browser's expired, unreadable or surplus login cookies, oldest first).
   */
  begin(
    data: Omit<LoginState, 'state' | 'createdAt'>,
    cookieHeader: string | undefined,
  ): { state: string; setCookies: string[] } {
    const state = randomId();
    const login: LoginState = { ...data, state, createdAt: this.now() };
    const name = this.cookieName(state);
    const setCookies: string[] = [];
    const pending: Array<{ name: string; createdAt: number }> = [];
    for (const [cookie, value] of readCookies(cookieHeader)) {
      if (!cookie.startsWith(this.prefix)) continue;
      const open = this.open(cookie, value);
      if (open) pending.push({ name: cookie, createdAt: open.createdAt });
      else setCookies.push(this.clear(cookie));
    }
    pending.sort((a, b) => a.createdAt - b.createdAt);
    for (const old of pending.slice(0, Math.max(0, pending.length - (MAX_PENDING_LOGINS - 1))))
      setCookies.push(this.clear(old.name));
    setCookies.push(
      serializeCookie(this.options.box.seal(JSON.stringify(login), name), {
        name,
        secure: this.options.cookie.secure,
        maxAgeSeconds: this.ttlMs / 1000,
      }),
    );
    return { state, setCookies };
  }

  /**
   * The sign-in `state` names, if this browser began it, its cookie is intact and it has not
   * expired; with the Set-Cookie that removes that cookie (a callback uses it up, whatever the outcome).
   */
  find(state: string, cookieHeader: string | undefined): { login?: LoginState; clear?: string } {
    if (state.length === 0 || state.length > 256) return {};
    const name = this.cookieName(state);
    const value = readCookies(cookieHeader).get(name);
    if (value === undefined) return {};
    const login = this.open(name, value);
    const same =
      login !== undefined &&
      login.state.length === state.length &&
      timingSafeEqual(Buffer.from(login.state), Buffer.from(state));
    return { login: same ? login : undefined, clear: this.clear(name) };
  }

  /**
   * Records that `login` was redeemed; false when it already was (a replay, here or on another
   * replica). Called after the identity provider accepted the code, so only real sign-ins write.
   */
  async markRedeemed(login: LoginState): Promise<boolean> {
    const ttlMs = Math.max(1, login.createdAt + this.ttlMs - this.now());
    return this.options.store.setIfAbsent(STORE_PREFIX.redeemedState + digest(login.state), '1', ttlMs);
  }

  private open(name: string, value: string): LoginState | undefined {
    let login: LoginState;
    try {
      login = JSON.parse(this.options.box.open(value, name)) as LoginState;
    } catch {
      return undefined; // not ours, tampered with, or sealed with a key that has since changed
    }
    const age = this.now() - login.createdAt;
    return age >= 0 && age < this.ttlMs ? login : undefined;
  }

  private clear(name: string): string {
    return clearCookie({ name, secure: this.options.cookie.secure });
  }
}
