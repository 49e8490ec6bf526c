// kubectl credentials: short-lived, opaque bearer secrets a signed-in user creates on the page so
// kubectl can call /k8s as them. Only the SHA-256 of a secret is stored, in a sealed record (as
// sessions are); each is bound to the user and to the session it was made in, lives no longer than
// that session, and stops working when it is revoked or that session ends (checked on every use).
import { createHash } from 'node:crypto';
import { AppError, AuthError } from '@auth-sidecars/service-kit';
import { CLI_CREDENTIAL_PREFIX, STORE_PREFIX } from './constants.js';
import type { CryptoBox } from './crypto-box.js';
import { randomId, type Session, type SessionStore, type SessionUser } from './sessions.js';
import type { KeyValueStore } from './store.js';

/** What the page shows of a credential (never its secret, which exists only in the creation answer). */
export interface CredentialSummary {
  id: string;
  name: string;
  createdAt: number;
  expiresAt: number;
}

/** Stored under the secret's hash: who the credential acts as, and the session it depends on. */
export interface CredentialRecord extends CredentialSummary {
  /** SessionStore.ref of the session it was created in. */
  sessionRef: string;
  slot: number;
  user: SessionUser;
  /** That session's MSAL cache partition: the same refresh token as the browser's. */
  cacheKey: string;
}

/** A session's slot: what listing and revoking need, and where the record is. */
interface SlotRecord extends CredentialSummary {
  hash: string;
}

/** 409 when the session already holds as many credentials as allowed. */
export class TooManyCredentialsError extends AppError {
  constructor(limit: number) {
    super(
      409,
      'too_many_credentials',
      `this sign-in already has ${limit} kubectl credentials; revoke one first`,
    );
  }
}

export interface CliCredentialOptions {
  /** Longest life of a credential (CLI_CREDENTIAL_TTL_SECONDS); the session's own end caps it too. */
  maxTtlMs: number;
  /** Credentials one session may hold at once (CLI_CREDENTIALS_PER_SESSION). */
  perSession: number;
}

const sha256 = (text: string): string => createHash('sha256').update(text).digest('base64url');
/** Length of every secret the broker issues (prefix + 32 random bytes, base64url). */
const SECRET_LENGTH = CLI_CREDENTIAL_PREFIX.length + 43;

export class CliCredentials {
  constructor(
    private readonly store: KeyValueStore,
    private readonly box: CryptoBox,
    private readonly sessions: SessionStore,
    readonly options: CliCredentialOptions,
    private readonly now: () => number = Date.now,
  ) {}

  /** Does this bearer look like one of ours (no store lookup)? */
  static isCredential(bearer: string): boolean {
    return bearer.length === SECRET_LENGTH && bearer.startsWith(CLI_CREDENTIAL_PREFIX);
  }

  /**
   * A new credential for the session `sessionId` (which holds `session`). Its secret is returned
   * here once and never again. A free slot is claimed atomically (SET NX), so concurrent creations on
   * several replicas can never exceed the limit nor lose one from the list.
   */
  async create(
    sessionId: string,
    session: Session,
    request: { name: string; ttlMs?: number },
  ): Promise<{ secret: string; credential: CredentialSummary }> {
    const now = this.now();
    const ttlMs = Math.min(request.ttlMs ?? this.options.maxTtlMs, this.options.maxTtlMs);
    const expiresAt = Math.min(now + ttlMs, session.expiresAt);
    if (expiresAt <= now) throw new AuthError('this sign-in has ended; sign in again', 'login_required');
    const secret = CLI_CREDENTIAL_PREFIX + randomId(32);
    const hash = sha256(secret);
    const sessionRef = this.sessions.ref(sessionId);
    const summary: CredentialSummary = { id: randomId(9), name: request.name, createdAt: now, expiresAt };
    for (let slot = 0; slot < this.options.perSession; slot++) {
      const slotKey = this.slotKey(sessionRef, slot);
      const slotRecord: SlotRecord = { ...summary, hash };
      if (!(await this.store.setIfAbsent(slotKey, this.seal(slotRecord, slotKey), expiresAt - now))) continue;
      const key = STORE_PREFIX.credential + hash;
      const record: CredentialRecord = {
        ...summary,
        sessionRef,
        slot,
        user: session.user,
        cacheKey: session.cacheKey,
      };
      try {
        await this.store.set(key, this.seal(record, key), expiresAt - now);
      } catch (error) {
        await this.store.delete(slotKey).catch(() => undefined);
        throw error;
      }
      return { secret, credential: summary };
    }
    throw new TooManyCredentialsError(this.options.perSession);
  }

  /** The session's live credentials, oldest first. */
  async list(sessionId: string): Promise<CredentialSummary[]> {
    const now = this.now();
    return (await this.slots(this.sessions.ref(sessionId)))
      .map(({ record }) => ({
        id: record.id,
        name: record.name,
        createdAt: record.createdAt,
        expiresAt: record.expiresAt,
      }))
      .filter((c) => c.expiresAt > now)
      .sort((a, b) => a.createdAt - b.createdAt);
  }

  /** Revokes one of the session's credentials; false when it has none by that id. */
  async revoke(sessionId: string, id: string): Promise<boolean> {
    const found = (await this.slots(this.sessions.ref(sessionId))).find((s) => s.record.id === id);
    if (!found) return false;
    await this.drop(found);
    return true;
  }

  /** Revokes every credential of a session (sign-out, a new sign-in in the same browser). */
  async revokeAll(sessionRef: string): Promise<number> {
    const slots = await this.slots(sessionRef);
    await Promise.all(slots.map((s) => this.drop(s)));
    return slots.length;
  }

  /**
   * The credential a bearer secret names, with its session, if it is live: known, not expired, not
   * revoked, and its session still exists for the same user. Anything else is undefined.
   */
  async verify(secret: string): Promise<{ record: CredentialRecord; session: Session } | undefined> {
    if (!CliCredentials.isCredential(secret)) return undefined;
    const key = STORE_PREFIX.credential + sha256(secret);
    const record = this.open<CredentialRecord>(key, await this.store.get(key));
    if (!record || record.expiresAt <= this.now()) return undefined;
    const session = await this.sessions.getByRef(record.sessionRef);
    if (!session || session.user.oid !== record.user.oid || session.cacheKey !== record.cacheKey)
      return undefined;
    return { record, session };
  }

  private slotKey(sessionRef: string, slot: number): string {
    return `${STORE_PREFIX.credentialSlot}${sessionRef}:${slot}`;
  }

  private async slots(sessionRef: string): Promise<Array<{ key: string; record: SlotRecord }>> {
    const keys = Array.from({ length: this.options.perSession }, (_, slot) => this.slotKey(sessionRef, slot));
    const values = await Promise.all(keys.map((key) => this.store.get(key)));
    return keys.flatMap((key, i) => {
      const record = this.open<SlotRecord>(key, values[i]);
      return record ? [{ key, record }] : [];
    });
  }

  /** The record first: from then on the secret no longer works; the slot is only the listing. */
  private async drop(slot: { key: string; record: SlotRecord }): Promise<void> {
    await this.store.delete(STORE_PREFIX.credential + slot.record.hash);
    await this.store.delete(slot.key);
  }

  private seal(value: object, key: string): string {
    return this.box.seal(JSON.stringify(value), key);
  }

  /** A record that does not open under its own key (moved, forged) does not exist. */
  private open<T>(key: string, sealed: string | undefined): T | undefined {
    if (sealed === undefined) return undefined;
    try {
      return JSON.parse(this.box.open(sealed, key)) as T;
    } catch {
      return undefined;
    }
  }
}
