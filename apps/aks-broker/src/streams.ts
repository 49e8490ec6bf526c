// What one user may hold open at once on this replica: long-lived streams (watches, followed logs)
// and plain calls still in flight. Each holds a connection to the API server for as long as it runs
// (a plain call too, if its answer is slow or read slowly), so one user holding hundreds of them must
// be refused (429) before the broker's connections, or the API server's, are theirs alone.
import { AppError } from '@auth-sidecars/service-kit';

/** 429 for a caller who already holds every stream the cap allows (a closed stream frees a slot). */
export class TooManyStreamsError extends AppError {
  constructor(limit: number) {
    super(
      429,
      'too_many_streams',
      `this user already has ${limit} open streams (watches, followed logs); close one first`,
      { headers: { 'retry-after': '5' } },
    );
  }
}

/** 429 for a caller with as many plain calls in flight as the cap allows. */
export class TooManyCallsError extends AppError {
  constructor(limit: number) {
    super(429, 'too_many_calls', `this user already has ${limit} calls in flight; retry when they are done`, {
      headers: { 'retry-after': '1' },
    });
  }
}

/** A per-user count of things held open, with a cap. */
export class PerUserLimit {
  private readonly open = new Map<string, number>();

  constructor(readonly perUser: number) {
    if (!(perUser > 0)) throw new RangeError('perUser must be positive');
  }

  /** Takes a slot for `key`; returns its release (idempotent), or undefined when `key` is at the cap. */
  tryAcquire(key: string): (() => void) | undefined {
    const held = this.open.get(key) ?? 0;
    if (held >= this.perUser) return undefined;
    this.open.set(key, held + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const now = (this.open.get(key) ?? 1) - 1;
      if (now <= 0) this.open.delete(key);
      else this.open.set(key, now);
    };
  }

  /** What `key` holds right now. */
  held(key: string): number {
    return this.open.get(key) ?? 0;
  }
}
