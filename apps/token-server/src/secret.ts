// Shared-secret comparison that leaks neither the secret nor which client almost matched:
// both sides are hashed to fixed-length digests and compared with timingSafeEqual, over all entries.
import { hash, timingSafeEqual } from 'node:crypto';

export type SecretDigest = Buffer;

export function digestSecret(secret: string): SecretDigest {
  // One-shot hash: half the cost of a createHash() object, and this runs on every request.
  return hash('sha256', secret, 'buffer');
}

/**
 * Index of the entry whose digest equals the presented secret's, or -1. Every entry is compared
 * (no early exit), so the time taken does not depend on where, or whether, a match is.
 */
export function findSecret(presented: string, digests: readonly SecretDigest[]): number {
  const candidate = digestSecret(presented);
  let found = -1;
  for (let i = 0; i < digests.length; i++) {
    if (timingSafeEqual(candidate, digests[i]!) && found === -1) found = i;
  }
  return found;
}
