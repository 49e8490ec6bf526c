import { backoffDelay, computeRefreshAt } from '../src/refreshPolicy.js';

const MIN = 60_000;
const policy = { refreshFraction: 0.5, maxRefreshAheadMs: 5 * MIN };
const t0 = 1_700_000_000_000;

describe('computeRefreshAt', () => {
  it('refreshes at the configured fraction of the lifetime', () => {
    expect(computeRefreshAt({ token: 'x', expiresOnTimestamp: t0 + 60 * MIN }, t0, policy)).toBe(
      t0 + 30 * MIN,
    );
  });

  it('never refreshes later than maxRefreshAheadMs before expiry', () => {
    const late = { ...policy, refreshFraction: 0.99 };
    expect(computeRefreshAt({ token: 'x', expiresOnTimestamp: t0 + 60 * MIN }, t0, late)).toBe(t0 + 55 * MIN);
  });

  it("follows the IdP's refreshAfterTimestamp when it lies inside the lifetime", () => {
    const token = {
      token: 'x',
      expiresOnTimestamp: t0 + 24 * 60 * MIN,
      refreshAfterTimestamp: t0 + 6 * 60 * MIN,
    };
    expect(computeRefreshAt(token, t0, policy)).toBe(t0 + 6 * 60 * MIN);
  });

  it('caps refreshAfterTimestamp at maxRefreshAheadMs before expiry', () => {
    const token = { token: 'x', expiresOnTimestamp: t0 + 60 * MIN, refreshAfterTimestamp: t0 + 58 * MIN };
    expect(computeRefreshAt(token, t0, policy)).toBe(t0 + 55 * MIN);
  });

  it('ignores a refreshAfterTimestamp outside the lifetime', () => {
    const past = { token: 'x', expiresOnTimestamp: t0 + 60 * MIN, refreshAfterTimestamp: t0 - 1 };
    const beyond = { token: 'x', expiresOnTimestamp: t0 + 60 * MIN, refreshAfterTimestamp: t0 + 61 * MIN };
    expect(computeRefreshAt(past, t0, policy)).toBe(t0 + 30 * MIN);
    expect(computeRefreshAt(beyond, t0, policy)).toBe(t0 + 30 * MIN);
  });

  it('uses the fraction for tokens too short for maxRefreshAheadMs (no refresh storm)', () => {
    expect(computeRefreshAt({ token: 'x', expiresOnTimestamp: t0 + 4_000 }, t0, policy)).toBe(t0 + 2_000);
    // 6 minutes: "5 minutes before expiry" would use the token for 1/6 of its life only.
    expect(computeRefreshAt({ token: 'x', expiresOnTimestamp: t0 + 6 * MIN }, t0, policy)).toBe(t0 + 3 * MIN);
  });

  it('applies maxRefreshAheadMs as soon as the token is used for at least a quarter of its life', () => {
    const late = { ...policy, refreshFraction: 0.9 };
    // 10 minutes: 5 minutes before expiry = half the life, allowed, earlier than 90 %.
    expect(computeRefreshAt({ token: 'x', expiresOnTimestamp: t0 + 10 * MIN }, t0, late)).toBe(t0 + 5 * MIN);
  });
});

describe('backoffDelay (exponential, full jitter)', () => {
  const retry = { initialMs: 1_000, maxMs: 60_000 };

  it('draws in [0, min(max, initial * 2^(n-1)))', () => {
    const ceilings = [1_000, 2_000, 4_000, 8_000, 16_000, 32_000, 60_000, 60_000, 60_000];
    ceilings.forEach((ceiling, i) => {
      const attempt = i + 1;
      expect(backoffDelay(attempt, retry, () => 0)).toBe(0);
      const top = backoffDelay(attempt, retry, () => 0.999_999);
      expect(top).toBeLessThan(ceiling);
      expect(top).toBeGreaterThanOrEqual(ceiling - 1);
      expect(backoffDelay(attempt, retry, () => 0.5)).toBe(ceiling / 2);
    });
  });

  it('stays bounded for huge attempt counts (the loop runs forever)', () => {
    expect(backoffDelay(10_000, retry, () => 0.999)).toBeLessThan(60_000);
    expect(Number.isFinite(backoffDelay(Number.MAX_SAFE_INTEGER, retry, () => 0.5))).toBe(true);
  });

  it('spreads real random draws over the whole window', () => {
    const samples = Array.from({ length: 5_000 }, () => backoffDelay(4, retry));
    expect(Math.min(...samples)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...samples)).toBeLessThan(8_000);
    const mean = samples.reduce((a, b) => a + b, 0) / samples.length;
    expect(mean).toBeGreaterThan(3_500);
    expect(mean).toBeLessThan(4_500);
    // full jitter: both low and high ends are used
    expect(samples.some((s) => s < 800)).toBe(true);
    expect(samples.some((s) => s > 7_200)).toBe(true);
  });
});
