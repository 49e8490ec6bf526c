// Long-lived Kubernetes streams (watches, followed logs) held open per user on this replica. Each
// holds a connection to the API server for as long as it runs, so one user opening hundreds of them
// must be refused (429) before the broker's sockets, or the API server's, are theirs alone.
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

export class StreamLimiter {
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

  /** Streams `key` holds right now. */
  held(key: string): number {
    return this.open.get(key) ?? 0;
  }

  /** Streams open on this replica, all users. */
  get total(): number {
    let sum = 0;
    for (const n of this.open.values()) sum += n;
    return sum;
  }
}
