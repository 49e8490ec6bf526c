// A fixed-token BearerSource: for tests and for benchmarks that measure the proxy without an IdP.
import type { BearerSource } from './bearer.js';

export interface StaticTokenSource extends BearerSource {
  /** Replaces the token handed out from now on (and by the next `invalidate()`). */
  set(token: string): void;
  readonly invalidations: number;
}

/** `next` (optional) yields the token a forced refresh switches to, to simulate rotation. */
export function staticTokenSource(token: string, next?: () => string): StaticTokenSource {
  let current = { token };
  let invalidations = 0;
  return {
    getToken: () => Promise.resolve(current),
    current: () => current,
    invalidate: () => {
      invalidations += 1;
      if (next !== undefined) current = { token: next() };
      return Promise.resolve(current);
    },
    set: (t: string) => {
      current = { token: t };
    },
    get invalidations() {
      return invalidations;
    },
  };
}
