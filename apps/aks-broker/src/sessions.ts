// Server-side sessions on a KeyValueStore. The browser only holds a random session id (in a signed
// cookie); the store is keyed by its SHA-256, so a store dump does not reveal live cookie values.
import { createHash, randomBytes } from 'node:crypto';
import { STORE_PREFIX } from './constants.js';
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
    readonly ttlMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** A brand-new session with a new random id (never reuses an id the browser already had). */
  async create(user: SessionUser, cacheKey: string): Promise<{ id: string; session: Session }> {
    const id = randomId();
    const createdAt = this.now();
    const session: Session = { user, cacheKey, createdAt, expiresAt: createdAt + this.ttlMs };
    await this.store.set(STORE_PREFIX.session + digest(id), JSON.stringify(session), this.ttlMs);
    return { id, session };
  }

  async get(id: string): Promise<Session | undefined> {
    const raw = await this.store.get(STORE_PREFIX.session + digest(id));
    if (raw === undefined) return undefined;
    const session = JSON.parse(raw) as Session;
    return session.expiresAt > this.now() ? session : undefined;
  }

  /** Removes the session; returns what it held (to clean up its cache partition). */
  async destroy(id: string): Promise<Session | undefined> {
    const raw = await this.store.take(STORE_PREFIX.session + digest(id));
    return raw === undefined ? undefined : (JSON.parse(raw) as Session);
  }
}
