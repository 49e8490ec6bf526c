// A small hand-written TokenCredential (not a mock of any SDK) whose behaviour a test scripts:
// token lifetime, delay, failure. Counts calls and remembers their times.
import type { AccessToken, GetTokenOptions, TokenCredential } from '@azure/core-auth';

export class ScriptedCredential implements TokenCredential {
  calls = 0;
  callTimes: number[] = [];
  lifetimeMs = 60_000;
  refreshAfterMs: number | undefined;
  delayMs = 0;
  /** Never answers (until aborted): an IdP that accepted the connection and went silent. */
  hang = false;
  failWith: Error | undefined;
  lastSignal: GetTokenOptions['abortSignal'];

  async getToken(_scopes: string | string[], options?: GetTokenOptions): Promise<AccessToken | null> {
    this.calls += 1;
    this.callTimes.push(Date.now());
    const n = this.calls;
    this.lastSignal = options?.abortSignal;
    if (this.hang) {
      await new Promise<void>((_, reject) =>
        options?.abortSignal?.addEventListener('abort', () => reject(new Error('aborted'))),
      );
    }
    if (this.delayMs > 0) await new Promise((resolve) => setTimeout(resolve, this.delayMs));
    if (this.failWith) throw this.failWith;
    const now = Date.now();
    return {
      token: `token-${n}`,
      expiresOnTimestamp: now + this.lifetimeMs,
      ...(this.refreshAfterMs === undefined ? {} : { refreshAfterTimestamp: now + this.refreshAfterMs }),
    };
  }
}

export class AuthenticationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AuthenticationError';
  }
}
