// Server-side sessions on a KeyValueStore. The browser only holds a random session id (in a signed
// cookie); the store is keyed by its SHA-256, so a store dump does not reveal live cookie values.
// Records are sealed (AES-256-GCM, the store key as associated data): one user's record written
// over another's key does not open, so whoever can write to Redis still cannot swap identities.
import { createHash, randomBytes } from 'node:crypto';
import { STORE_PREFIX } from './constants.js';
import type { CryptoBox } from './crypto-box.js';
import type { KeyValueStore } from './store.js';

export interface SessionUser {
  /** Entra object id: the rate-limit and audit key. */
  oid: string;
  tid: string;
  name: string;
  username: string;
  /** MSAL home account id (`<oid>.<tid>`), to find the account in the cache partition. */
  homeAccountId: string;
}

export interface Session {
  user: SessionUser;
  /** Key of this sign-in's MSAL cache partition. */
  cacheKey: string;
  createdAt: number;
  expiresAt: number;
}

export const randomId = (bytes = 32): string => randomBytes(bytes).toString('base64url');
const digest = (id: string): string => createHash('sha256').update(id).digest('base64url');

export class SessionStore {
  constructor(
    private readonly store: KeyValueStore,
    private readonly box: CryptoBox,
    readonly ttlMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** A brand-new session with a new random id (never reuses an id the browser already had). */
  async create(user: SessionUser, cacheKey: string): Promise<{ id: string; session: Session }> {
    const id = randomId();
    const createdAt = this.now();
    const session: Session = { user, cacheKey, createdAt, expiresAt: createdAt + this.ttlMs };
    const key = STORE_PREFIX.session + digest(id);
    await this.store.set(key, this.box.seal(JSON.stringify(session), key), this.ttlMs);
    return { id, session };
  }

  async get(id: string): Promise<Session | undefined> {
    return this.getByRef(this.ref(id));
  }

  /**
   * A reference to the session that does not reveal its id (the digest its record is stored under):
   * what other records (kubectl credentials) keep to find out whether the session still exists.
   */
  ref(id: string): string {
    return digest(id);
  }

  async getByRef(ref: string): Promise<Session | undefined> {
    const key = STORE_PREFIX.session + ref;
    const session = this.open(key, await this.store.get(key));
    return session && session.expiresAt > this.now() ? session : undefined;
  }

  /** Removes the session; returns what it held (to clean up its cache partition). */
  async destroy(id: string): Promise<Session | undefined> {
    const key = STORE_PREFIX.session + digest(id);
    return this.open(key, await this.store.take(key));
  }

  /** A record that does not open (moved, forged, another key) is no session at all. */
  private open(key: string, sealed: string | undefined): Session | undefined {
    if (sealed === undefined) return undefined;
    try {
      return JSON.parse(this.box.open(sealed, key)) as Session;
    } catch {
      return undefined;
    }
  }
}
