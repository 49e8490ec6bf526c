import type { AccessToken } from '@azure/core-auth';
import { TokenUnavailableError } from '@auth-sidecars/auth-core';
import { ServiceUnavailableError } from '@auth-sidecars/service-kit';
import { ScopeTokens, type ScopeProvider } from '../src/tokens.js';

// A scripted stand-in for auth-core's TokenProvider (the unit under test is the LRU and the
// minimum-validity rule; the real provider is exercised in the e2e tests against dev-entra).
class FakeProvider implements ScopeProvider {
  starts = 0;
  invalidations = 0;
  stopped = false;
  token: AccessToken | undefined;
  failStart = false;
  failInvalidate = false;
  nextLifetimeMs = 3600_000;
  private n = 0;
  constructor(readonly scope: string) {}
  private mint(): AccessToken {
    this.n += 1;
    return {
      token: `${this.scope}#${this.n}`,
      expiresOnTimestamp: Date.now() + this.nextLifetimeMs,
      tokenType: 'Bearer',
    };
  }
  async start() {
    this.starts += 1;
    await new Promise((r) => setTimeout(r, 10));
    if (this.failStart) throw new Error('idp down');
    this.token = this.mint();
  }
  startInBackground() {
    void this.start().catch(() => undefined);
  }
  async getToken() {
    if (!this.token || this.token.expiresOnTimestamp <= Date.now())
      throw new TokenUnavailableError(this.scope, 'no token', { retryAt: Date.now() + 6_500 });
    return this.token;
  }
  current() {
    return this.token && this.token.expiresOnTimestamp > Date.now() ? this.token : undefined;
  }
  private forcing: Promise<AccessToken> | undefined;
  // Single-flight, as auth-core's invalidate() is: ScopeTokens relies on it rather than repeating it.
  invalidate() {
    this.forcing ??= (async () => {
      this.invalidations += 1;
      await new Promise((r) => setTimeout(r, 10));
      if (this.failInvalidate) throw new Error('idp down');
      this.token = this.mint();
      return this.token;
    })().finally(() => (this.forcing = undefined));
    return this.forcing;
  }
  status() {
    return {
      valid: this.current() !== undefined,
      expiresAt: this.token ? new Date(this.token.expiresOnTimestamp) : undefined,
      consecutiveFailures: 0,
    };
  }
  stop() {
    this.stopped = true;
  }
}

function setup(
  options: { maxScopes?: number; minValidityMs?: number; warmScopes?: string[]; idleMs?: number } = {},
) {
  const providers: FakeProvider[] = [];
  const evicted: string[] = [];
  const tokens = new ScopeTokens({
    createProvider: (scope) => {
      const p = new FakeProvider(scope);
      providers.push(p);
      return p;
    },
    maxScopes: options.maxScopes ?? 10,
    idleMs: options.idleMs,
    minValidityMs: options.minValidityMs ?? 5 * 60_000,
    warmScopes: options.warmScopes,
    onEvict: (scope) => evicted.push(scope),
  });
  return { tokens, providers, evicted };
}

describe('ScopeTokens', () => {
  it('creates one provider per scope on first use, shared by concurrent callers', async () => {
    const { tokens, providers } = setup();
    const results = await Promise.all(Array.from({ length: 50 }, () => tokens.get('a/.default')));
    expect(providers).toHaveLength(1);
    expect(providers[0]!.starts).toBe(1);
    expect(new Set(results.map((r) => r.token.token))).toEqual(new Set(['a/.default#1']));
    expect(results.every((r) => r.cacheHit === false)).toBe(true); // all waited for the first token
    expect((await tokens.get('a/.default')).cacheHit).toBe(true);
    await tokens.get('b/.default');
    expect(providers).toHaveLength(2);
    expect(tokens.size).toBe(2);
  });

  it('cached(): the held token without an await, never a new provider or a short-lived token', async () => {
    const { tokens, providers } = setup({ minValidityMs: 5 * 60_000 });
    expect(tokens.cached('a/.default')).toBeUndefined();
    expect(providers).toHaveLength(0); // asking memory creates nothing
    const first = await tokens.get('a/.default');
    expect(tokens.cached('a/.default')).toEqual({ token: first.token, cacheHit: true });
    providers[0]!.token = { token: 'short', expiresOnTimestamp: Date.now() + 60_000 };
    expect(tokens.cached('a/.default')).toBeUndefined(); // get() refreshes it first
  });

  it('bounds the number of providers (LRU) and stops evicted ones', async () => {
    const { tokens, providers, evicted } = setup({ maxScopes: 2 });
    await tokens.get('a');
    await tokens.get('b');
    await tokens.get('a'); // a is now most recent
    await tokens.get('c');
    expect(evicted).toEqual(['b']);
    expect(providers.find((p) => p.scope === 'b')!.stopped).toBe(true);
    expect(tokens.size).toBe(2);
  });

  it('stops providers nobody asked for within the idle time; use keeps them alive', async () => {
    const { tokens, providers, evicted } = setup({ idleMs: 150 });
    await tokens.get('idle');
    await tokens.get('busy');
    for (let i = 0; i < 5; i++) {
      await new Promise((r) => setTimeout(r, 50));
      await tokens.get('busy');
    }
    expect(evicted).toEqual(['idle']);
    expect(providers.find((p) => p.scope === 'idle')!.stopped).toBe(true);
    expect(providers.find((p) => p.scope === 'busy')!.stopped).toBe(false);
    tokens.stop();
  });

  it('drops a provider whose first acquisition failed, so the next call tries again', async () => {
    const { tokens, providers } = setup();
    const first = tokens.get('x');
    providers[0]!.failStart = true;
    await expect(first).rejects.toMatchObject({ status: 503, code: 'token_unavailable' });
    await new Promise((r) => setTimeout(r, 0));
    expect((await tokens.get('x')).token.token).toBe('x#1');
    expect(providers).toHaveLength(2);
  });

  it("never hands out less than the minimum validity: one forced refresh, shared (the provider's single-flight)", async () => {
    const { tokens, providers } = setup({ minValidityMs: 5 * 60_000 });
    await tokens.get('s');
    const p = providers[0]!;
    p.token = { token: 'old', expiresOnTimestamp: Date.now() + 60_000 };
    const results = await Promise.all(Array.from({ length: 20 }, () => tokens.get('s')));
    expect(p.invalidations).toBe(1);
    expect(results.every((r) => r.token.token === 's#2' && !r.cacheHit)).toBe(true);
  });

  it('serves the freshest token the IdP gives even if its lifetime is below the minimum (no refresh loop)', async () => {
    const { tokens, providers } = setup({ minValidityMs: 5 * 60_000 });
    await tokens.get('s');
    const p = providers[0]!;
    p.nextLifetimeMs = 120_000;
    p.token = { token: 'old', expiresOnTimestamp: Date.now() + 60_000 };
    expect((await tokens.get('s')).token.token).toBe('s#2');
    expect((await tokens.get('s')).token.token).toBe('s#2');
    expect(p.invalidations).toBe(1);
  });

  it("turns the provider's HTTP-free TokenUnavailableError into a 503 with its reason and retry-after", async () => {
    const { tokens, providers } = setup();
    await tokens.get('s');
    providers[0]!.token = { token: 'gone', expiresOnTimestamp: Date.now() - 1 };
    const err = await tokens.get('s').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ServiceUnavailableError);
    expect(err).toMatchObject({ status: 503, code: 'token_unavailable', expose: true });
    expect((err as Error).message).toBe('no valid access token for scope s: no token');
    expect((err as ServiceUnavailableError).headers['retry-after']).toBe('7');
  });

  it('answers 503 when the forced refresh fails', async () => {
    const { tokens, providers } = setup();
    await tokens.get('s');
    const p = providers[0]!;
    p.failInvalidate = true;
    p.token = { token: 'old', expiresOnTimestamp: Date.now() + 60_000 };
    const err = await tokens.get('s').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ServiceUnavailableError);
    expect((err as ServiceUnavailableError).headers['retry-after']).toBe('5');
  });

  it('an unready warm scope is asked for its token by the readiness check (the probe is demand)', async () => {
    const { tokens, providers } = setup({ warmScopes: ['w'] });
    const warm = providers[0]!;
    let asked = 0;
    const getToken = warm.getToken.bind(warm);
    warm.getToken = () => {
      asked += 1;
      return getToken();
    };
    expect(tokens.ready()).toBe(false); // not started yet: asked
    expect(asked).toBe(1);
    await new Promise((r) => setTimeout(r, 30));
    expect(tokens.ready()).toBe(true); // valid: not asked
    expect(asked).toBe(1);
    tokens.stop();
  });

  it('starts warm scopes at once, keeps them out of the LRU and reports readiness', async () => {
    const { tokens, providers } = setup({ maxScopes: 1, warmScopes: ['w'] });
    expect(tokens.ready()).toBe(false);
    await new Promise((r) => setTimeout(r, 30));
    expect(tokens.ready()).toBe(true);
    await tokens.get('a');
    await tokens.get('b');
    expect(providers.find((p) => p.scope === 'w')!.stopped).toBe(false);
    expect((await tokens.get('w')).cacheHit).toBe(true);
    expect(tokens.status()).toEqual({ providers: 2, valid: 2, warm: 1, warmValid: 1 });
    tokens.stop();
    expect(providers.every((p) => p.stopped)).toBe(true);
  });
});
