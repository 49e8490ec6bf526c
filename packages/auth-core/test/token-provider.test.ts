import { jest } from '@jest/globals';
import { Registry } from 'prom-client';
import { TokenProvider } from '../src/token-provider.js';
import {
  IdentityProviderRefusedError,
  IdentityProviderUnreachableError,
  TokenUnavailableError,
} from '../src/errors.js';
import { AuthenticationError, ScriptedCredential } from './helpers/scripted-credential.js';

const SCOPE = 'api://unit-test/.default';
const providers: TokenProvider[] = [];

function provider(
  credential: ScriptedCredential,
  extra: Partial<ConstructorParameters<typeof TokenProvider>[0]> = {},
) {
  const p = new TokenProvider({ credential, scope: SCOPE, random: () => 0.5, expiryMarginMs: 0, ...extra });
  providers.push(p);
  return p;
}

beforeEach(() => {
  jest.useFakeTimers({ doNotFake: ['nextTick', 'queueMicrotask'], now: new Date('2026-01-01T00:00:00Z') });
});

afterEach(() => {
  for (const p of providers.splice(0)) p.stop();
  jest.useRealTimers();
});

describe('TokenProvider hot path and single-flight', () => {
  it('serves a held token from memory without calling the credential', async () => {
    const credential = new ScriptedCredential();
    const p = provider(credential);
    await p.start();
    const tokens = await Promise.all(Array.from({ length: 100 }, () => p.getToken()));
    expect(credential.calls).toBe(1);
    expect(new Set(tokens.map((t) => t.token))).toEqual(new Set(['token-1']));
    expect(p.current()?.token).toBe('token-1');
  });

  it('collapses 1000 concurrent cold-start callers into one request', async () => {
    const credential = new ScriptedCredential();
    credential.delayMs = 200;
    const p = provider(credential);
    const all = Promise.all(Array.from({ length: 1000 }, () => p.getToken()));
    await jest.advanceTimersByTimeAsync(200);
    const tokens = await all;
    expect(credential.calls).toBe(1);
    expect(tokens.every((t) => t.token === 'token-1')).toBe(true);
  });

  it('collapses concurrent invalidate() calls into one forced refresh', async () => {
    const credential = new ScriptedCredential();
    credential.delayMs = 50;
    const p = provider(credential);
    const first = p.getToken();
    await jest.advanceTimersByTimeAsync(50);
    await first;
    const forced = Promise.all([p.invalidate(), p.invalidate(), p.invalidate()]);
    // while the forced refresh runs, callers still get the held token at once
    expect((await p.getToken()).token).toBe('token-1');
    await jest.advanceTimersByTimeAsync(50);
    expect((await forced).map((t) => t.token)).toEqual(['token-2', 'token-2', 'token-2']);
    expect(credential.calls).toBe(2);
    expect((await p.getToken()).token).toBe('token-2');
  });
});

describe('TokenProvider forced refresh throttle', () => {
  it('by default (5 s) an invalidate() storm is one request per interval; the first one after startup asks', async () => {
    const credential = new ScriptedCredential();
    const p = provider(credential);
    await p.start();
    // The first 401 right after startup is honoured: the token may have been revoked meanwhile.
    expect((await p.invalidate()).token).toBe('token-2');
    for (let i = 0; i < 50; i += 1) {
      expect((await p.invalidate()).token).toBe('token-2'); // sequential 401s: the held token, no request
    }
    expect(credential.calls).toBe(2);
    await jest.advanceTimersByTimeAsync(5_000);
    expect((await p.invalidate()).token).toBe('token-3');
    expect((await p.invalidate()).token).toBe('token-3');
    expect(credential.calls).toBe(3);
  });

  it('within the interval and without a held token, invalidate() rejects without asking', async () => {
    const credential = new ScriptedCredential();
    credential.lifetimeMs = 4_000;
    const p = provider(credential);
    await p.start();
    expect((await p.invalidate()).token).toBe('token-2');
    p.stop(); // no background refresh: only invalidate() could ask
    await jest.advanceTimersByTimeAsync(4_500); // token-2 expired, 4.5 s after the forced refresh
    await expect(p.invalidate()).rejects.toBeInstanceOf(TokenUnavailableError);
    expect(credential.calls).toBe(2);
    await jest.advanceTimersByTimeAsync(500);
    expect((await p.invalidate()).token).toBe('token-3');
  });

  it('minForcedRefreshIntervalMs 0: every sequential invalidate() asks the IdP', async () => {
    const credential = new ScriptedCredential();
    const p = provider(credential, { minForcedRefreshIntervalMs: 0 });
    await p.start();
    await p.invalidate();
    await p.invalidate();
    expect(credential.calls).toBe(3);
  });
});

describe('TokenProvider proactive refresh', () => {
  it('refreshes on a timer at the fraction of the lifetime, also when nobody asks', async () => {
    const credential = new ScriptedCredential();
    credential.lifetimeMs = 60_000;
    const p = provider(credential);
    await p.start();
    expect(p.status().refreshAt?.getTime()).toBe(Date.now() + 30_000);
    await jest.advanceTimersByTimeAsync(29_999);
    expect(credential.calls).toBe(1);
    await jest.advanceTimersByTimeAsync(1);
    expect(credential.calls).toBe(2);
    await jest.advanceTimersByTimeAsync(30_000);
    expect(credential.calls).toBe(3);
    expect(p.current()?.token).toBe('token-3');
    const t0 = credential.callTimes[0]!;
    console.log(
      `unit: idle refreshes at +${credential.callTimes.map((t) => t - t0).join(' ms, +')} ms (lifetime 60000 ms, fraction 0.5)`,
    );
  });

  it("refreshes at the credential's refreshAfterTimestamp", async () => {
    const credential = new ScriptedCredential();
    credential.lifetimeMs = 3_600_000;
    credential.refreshAfterMs = 600_000;
    const p = provider(credential);
    await p.start();
    await jest.advanceTimersByTimeAsync(599_999);
    expect(credential.calls).toBe(1);
    await jest.advanceTimersByTimeAsync(1);
    expect(credential.calls).toBe(2);
  });

  it('refreshes no later than maxRefreshAheadMs before expiry', async () => {
    const credential = new ScriptedCredential();
    credential.lifetimeMs = 3_600_000;
    const p = provider(credential, { refreshFraction: 0.99, maxRefreshAheadMs: 300_000 });
    await p.start();
    expect(p.status().refreshAt!.getTime() - Date.now()).toBe(3_300_000);
  });

  it('stops handing out a token a safety margin before expiry and refreshes against that', async () => {
    const credential = new ScriptedCredential();
    credential.lifetimeMs = 60_000;
    const p = provider(credential, { expiryMarginMs: undefined }); // default 1 s
    await p.start();
    const t0 = Date.now();
    expect(p.status().refreshAt!.getTime() - t0).toBe(29_500); // half of the usable 59 s
    p.stop();
    await jest.advanceTimersByTimeAsync(58_999);
    expect(p.current()).toBeDefined();
    await jest.advanceTimersByTimeAsync(1);
    expect(p.current()).toBeUndefined();
    expect(p.status()).toMatchObject({ valid: false, expiresAt: new Date(t0 + 60_000) });

    const short = new ScriptedCredential();
    short.lifetimeMs = 4_000; // margin capped at a tenth of the lifetime: 400 ms
    const q = provider(short, { expiryMarginMs: undefined });
    await q.start();
    expect(q.status().refreshAt!.getTime() - Date.now()).toBe(1_800);
    await jest.advanceTimersByTimeAsync(1_800);
    expect(short.calls).toBe(2);
  });

  it('stop() clears every timer and start() resumes the schedule', async () => {
    const credential = new ScriptedCredential();
    const p = provider(credential);
    await p.start();
    expect(jest.getTimerCount()).toBe(1);
    p.stop();
    expect(jest.getTimerCount()).toBe(0);
    expect(p.status().refreshAt).toBeUndefined();
    await jest.advanceTimersByTimeAsync(120_000);
    expect(credential.calls).toBe(1);
    await p.start();
    expect(credential.calls).toBe(2); // the held token had expired: start() acquired a new one
    expect(jest.getTimerCount()).toBe(1);
  });
});

describe('TokenProvider failures', () => {
  it('keeps the old token until it expires, retries with backoff, then fails typed, then recovers', async () => {
    const credential = new ScriptedCredential();
    credential.lifetimeMs = 10_000;
    const p = provider(credential, { retry: { initialMs: 1_000, maxMs: 4_000 } });
    await p.start();
    credential.failWith = new AuthenticationError('AADSTS7000215: Invalid client secret provided.');

    await jest.advanceTimersByTimeAsync(5_000); // scheduled refresh fails
    expect(credential.calls).toBe(2);
    expect((await p.getToken()).token).toBe('token-1');
    expect(p.status()).toMatchObject({ valid: true, consecutiveFailures: 1 });
    expect(p.status().lastError).toContain('AADSTS7000215');
    expect(p.status().lastError).toContain('the identity provider refused the request');

    // random = 0.5: retries after 500, 1000, 2000, 2000 (capped) ms
    const before = credential.calls;
    await jest.advanceTimersByTimeAsync(500);
    expect(credential.calls).toBe(before + 1);
    await jest.advanceTimersByTimeAsync(1_000);
    expect(credential.calls).toBe(before + 2);
    await jest.advanceTimersByTimeAsync(2_000);
    expect(credential.calls).toBe(before + 3);
    expect((await p.getToken()).token).toBe('token-1'); // 8.5 s into a 10 s token

    await jest.advanceTimersByTimeAsync(1_600); // past expiry
    expect(p.status().valid).toBe(false);
    const callsBefore = credential.calls;
    const error = await p.getToken().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TokenUnavailableError);
    expect(error).not.toHaveProperty('status'); // HTTP-free: services map it to their 503
    expect(error).toMatchObject({ code: 'token_unavailable', scope: SCOPE });
    expect((error as Error).message).toContain(SCOPE);
    expect((error as Error).message).toContain('AADSTS7000215');
    expect((error as TokenUnavailableError).retryAfterSeconds).toBeGreaterThanOrEqual(1);
    expect(credential.calls).toBe(callsBefore); // fails fast while backing off: no extra IdP request

    credential.failWith = undefined;
    await jest.advanceTimersByTimeAsync(2_000);
    const recovered = await p.getToken();
    expect(recovered.token).toMatch(/^token-\d+$/);
    expect(recovered.token).not.toBe('token-1');
    expect(p.status()).toMatchObject({ valid: true, consecutiveFailures: 0, lastError: undefined });
  });

  it('demand starts one attempt when none ran for demandRetryIntervalMs (5 s): recovery within 5 s, not at the backoff', async () => {
    const credential = new ScriptedCredential();
    credential.lifetimeMs = 10_000;
    // A long background backoff (random 0.5: 30 s), as after many failures with the 60 s cap.
    const p = provider(credential, { retry: { initialMs: 60_000, maxMs: 60_000 } });
    await p.start();
    credential.failWith = new Error('connect ECONNREFUSED 127.0.0.1:1');
    await jest.advanceTimersByTimeAsync(10_000); // the scheduled refresh at 5 s failed; token expired
    expect(p.status()).toMatchObject({ valid: false, consecutiveFailures: 1 });
    expect(credential.calls).toBe(2);

    // Callers every 100 ms. Within 5 s of the last attempt they fail fast; then one of them starts
    // an attempt (the others keep failing fast: single-flight, no queue), and so on every 5 s.
    credential.delayMs = 50;
    const outcomes: Array<{ at: number; ok: boolean; retryAfter?: number | undefined }> = [];
    const t0 = Date.now();
    const backAt = t0 + 12_000;
    while (Date.now() - t0 < 20_000) {
      if (Date.now() >= backAt) credential.failWith = undefined;
      const at = Date.now();
      void p.getToken().then(
        () => outcomes.push({ at, ok: true }),
        (e: TokenUnavailableError) => outcomes.push({ at, ok: false, retryAfter: e.retryAfterSeconds }),
      );
      await jest.advanceTimersByTimeAsync(100);
    }
    const attempts = credential.callTimes.slice(2).map((t) => t - t0);
    // One attempt per 5 s of demand (the background retry is 30 s away): at once (the refresh at 5 s
    // was the last attempt), +5 s and +10 s, failing, then at +15 s, succeeding.
    expect(attempts).toEqual([0, 5_000, 10_000, 15_000]);
    const firstOk = outcomes.find((o) => o.ok)!;
    expect(firstOk.at - t0).toBe(15_000); // the caller that started the attempt got the token
    expect(firstOk.at - backAt).toBeLessThanOrEqual(5_000);
    expect(outcomes.filter((o) => o.at > firstOk.at).every((o) => o.ok)).toBe(true);
    // Retry-After points at the next moment demand may start an attempt, never beyond 5 s.
    const refused = outcomes.filter((o) => !o.ok);
    expect(refused.length).toBeGreaterThan(100);
    expect(refused.every((o) => Number(o.retryAfter) >= 1 && Number(o.retryAfter) <= 5)).toBe(true);
  });

  it('demand attempts do not replace the background loop: an idle provider still retries with backoff', async () => {
    const credential = new ScriptedCredential();
    credential.failWith = new Error('connect ECONNREFUSED 127.0.0.1:1');
    const p = provider(credential, { retry: { initialMs: 2_000, maxMs: 2_000 } });
    p.startInBackground();
    await jest.advanceTimersByTimeAsync(10_000); // no callers: attempts every 1 s (random 0.5)
    expect(credential.calls).toBe(11);
  });

  it('tells an unreachable IdP from one that refuses (typed errors, messages)', async () => {
    const down = new ScriptedCredential();
    down.failWith = Object.assign(
      new Error('endpoints_resolution_error: See https://aka.ms/msal.js.errors#endpoints_resolution_error'),
      { name: 'CredentialUnavailableError' },
    );
    const p = provider(down, { startAttempts: 1 });
    const unreachable = await p.start().catch((e: unknown) => e);
    expect(unreachable).toBeInstanceOf(IdentityProviderUnreachableError);
    expect(unreachable).toMatchObject({ code: 'token_unavailable', kind: 'unreachable' });
    expect((unreachable as Error).message).toMatch(/the identity provider is unreachable/);

    const refusing = new ScriptedCredential();
    refusing.failWith = new AuthenticationError(
      'invalid_client: Error(s): 7000215 - Description: AADSTS7000215: Invalid client secret provided. Trace ID: 1',
    );
    const q = provider(refusing, { startAttempts: 1 });
    const refused = await q.start().catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(IdentityProviderRefusedError);
    expect(refused).not.toBeInstanceOf(IdentityProviderUnreachableError);
    expect((refused as Error).message).toMatch(/the identity provider refused the request \(check client id/);

    // After a token was had, an unreachable IdP is an outage: the message does not send the operator
    // to the configuration.
    const flaky = new ScriptedCredential();
    flaky.lifetimeMs = 4_000;
    const r = provider(flaky, { retry: { initialMs: 60_000, maxMs: 60_000 } });
    await r.start();
    flaky.failWith = down.failWith;
    await jest.advanceTimersByTimeAsync(4_000);
    const outage = await r.getToken().catch((e: unknown) => e);
    expect(outage).toBeInstanceOf(IdentityProviderUnreachableError);
    expect((outage as Error).message).toMatch(/the identity provider is unreachable/);
    expect((outage as Error).message).not.toMatch(/check|AZURE_/);
  });

  it('does not queue callers behind a retry in flight once failing without a valid token', async () => {
    const credential = new ScriptedCredential();
    credential.failWith = new Error('connect ECONNREFUSED');
    credential.delayMs = 5_000; // a slow, failing IdP
    const p = provider(credential, { retry: { initialMs: 100, maxMs: 100 } });
    p.startInBackground();
    await jest.advanceTimersByTimeAsync(5_100); // first attempt failed, retry now in flight
    expect(credential.calls).toBe(2);
    const t0 = Date.now();
    await expect(p.getToken()).rejects.toBeInstanceOf(TokenUnavailableError);
    expect(Date.now()).toBe(t0); // rejected at once, not after the 5 s attempt
    expect(credential.calls).toBe(2);
  });

  it('keeps retrying forever (the loop never dies)', async () => {
    const credential = new ScriptedCredential();
    credential.failWith = new Error('connect ECONNREFUSED 127.0.0.1:1');
    const p = provider(credential, { retry: { initialMs: 100, maxMs: 1_000 } });
    p.startInBackground();
    await jest.advanceTimersByTimeAsync(60 * 60_000);
    // random = 0.5 => every retry after 500 ms once capped: about 7200 attempts in an hour
    expect(credential.calls).toBeGreaterThan(7_000);
    expect(p.status().consecutiveFailures).toBe(credential.calls);
    credential.failWith = undefined;
    await jest.advanceTimersByTimeAsync(1_000);
    expect(p.status().valid).toBe(true);
  });

  it('start() fails fast with a typed error after startAttempts and leaves nothing running', async () => {
    const credential = new ScriptedCredential();
    credential.failWith = new AuthenticationError('AADSTS700016: Application not found in the directory.');
    const p = provider(credential); // default: 3 attempts; random 0.5 => 500 ms, 1000 ms apart
    const outcome = p.start().catch((e: unknown) => e);
    await jest.advanceTimersByTimeAsync(1_499);
    expect(credential.calls).toBe(2);
    await jest.advanceTimersByTimeAsync(1);
    expect(credential.calls).toBe(3);
    const error = await outcome;
    expect(error).toBeInstanceOf(TokenUnavailableError);
    expect((error as Error).message).toContain('AADSTS700016');
    expect(jest.getTimerCount()).toBe(0);
    expect(p.status()).toMatchObject({ valid: false, consecutiveFailures: 3, refreshAt: undefined });
    await jest.advanceTimersByTimeAsync(600_000);
    expect(credential.calls).toBe(3);
  });

  it('start() rides out a blip shorter than its attempts', async () => {
    const credential = new ScriptedCredential();
    credential.failWith = new Error('read ECONNRESET');
    const p = provider(credential);
    const started = p.start();
    await jest.advanceTimersByTimeAsync(0);
    credential.failWith = undefined;
    await jest.advanceTimersByTimeAsync(500);
    await expect(started).resolves.toBeUndefined();
    expect(p.status()).toMatchObject({ valid: true, consecutiveFailures: 0 });
    expect(jest.getTimerCount()).toBe(1); // the proactive refresh
  });

  it('startInBackground() starts unready and becomes ready once the IdP answers', async () => {
    const credential = new ScriptedCredential();
    credential.failWith = new Error('getaddrinfo ENOTFOUND login.example');
    const p = provider(credential, { retry: { initialMs: 1_000, maxMs: 1_000 } });
    expect(() => p.startInBackground()).not.toThrow();
    await jest.advanceTimersByTimeAsync(0);
    expect(p.status().valid).toBe(false);
    await expect(p.getToken()).rejects.toBeInstanceOf(TokenUnavailableError);
    credential.failWith = undefined;
    await jest.advanceTimersByTimeAsync(500);
    expect(p.status().valid).toBe(true);
    expect((await p.getToken()).token).toBe(`token-${credential.calls}`);
  });

  it('aborts an acquisition that exceeds acquireTimeoutMs', async () => {
    const credential = new ScriptedCredential();
    credential.hang = true;
    const p = provider(credential, { acquireTimeoutMs: 2_000, startAttempts: 1 });
    const started = p.start();
    const outcome = started.catch((e: unknown) => e);
    await jest.advanceTimersByTimeAsync(2_000);
    const error = await outcome;
    expect(error).toBeInstanceOf(TokenUnavailableError);
    expect((error as Error).message).toContain('did not complete within 2000 ms');
    expect(credential.lastSignal?.aborted).toBe(true);
  });

  it('treats a token that is already expired as a failure', async () => {
    const credential = new ScriptedCredential();
    credential.lifetimeMs = -1;
    const p = provider(credential, { startAttempts: 1 });
    await expect(p.start()).rejects.toThrow(/already expired/);
  });
});

describe('TokenProvider metrics', () => {
  it('registers once per registry and labels by scope (several providers, one registry)', async () => {
    const registry = new Registry();
    const a = new ScriptedCredential();
    const b = new ScriptedCredential();
    const pa = provider(a, { registry, scope: 'https://a.example/.default' });
    const pb = provider(b, { registry, scope: 'https://b.example/.default' });
    await pa.start();
    await pb.start();
    b.failWith = new Error('boom');
    await pb.invalidate().catch(() => undefined);
    const text = await registry.metrics();
    expect(text).toContain(
      `auth_token_expiry_timestamp_seconds{scope="https://a.example/.default"} ${(Date.now() + 60_000) / 1000}`,
    );
    expect(text).toContain('auth_token_refresh_total{scope="https://a.example/.default",result="success"} 1');
    expect(text).toContain('auth_token_refresh_total{scope="https://b.example/.default",result="failure"} 1');
    expect(text).toMatch(
      /auth_token_acquire_duration_seconds_count\{scope="https:\/\/b.example\/.default"\} 2/,
    );
    expect(text.match(/# TYPE auth_token_refresh_total counter/g)).toHaveLength(1);
  });

  it('stop() removes the scope\'s expiry series (no stale "about to expire" alert), start() restores it', async () => {
    const registry = new Registry();
    const pa = provider(new ScriptedCredential(), { registry, scope: 'https://a.example/.default' });
    const pb = provider(new ScriptedCredential(), { registry, scope: 'https://b.example/.default' });
    await pa.start();
    await pb.start();
    pb.stop();
    let text = await registry.metrics();
    expect(text).toContain('auth_token_expiry_timestamp_seconds{scope="https://a.example/.default"}');
    expect(text).not.toContain('auth_token_expiry_timestamp_seconds{scope="https://b.example/.default"}');
    await pb.start();
    text = await registry.metrics();
    expect(text).toContain('auth_token_expiry_timestamp_seconds{scope="https://b.example/.default"}');
  });
});
