import { backoffDelay } from '../src/backoff.js';

const retry = { initialMs: 1_000, maxMs: 60_000 };

describe('backoffDelay (exponential, full jitter)', () => {
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

describe('backoffDelay (exponential, half jitter)', () => {
  it('draws in [ceiling/2, ceiling], never below half the ceiling', () => {
    const ceilings = [1_000, 2_000, 4_000, 8_000, 16_000, 32_000, 60_000, 60_000];
    ceilings.forEach((ceiling, i) => {
      const attempt = i + 1;
      expect(backoffDelay(attempt, retry, () => 0, 'half')).toBe(ceiling / 2);
      expect(backoffDelay(attempt, retry, () => 1, 'half')).toBe(ceiling);
      expect(backoffDelay(attempt, retry, () => 0.5, 'half')).toBe(Math.round(ceiling * 0.75));
    });
  });

  it('stays bounded for huge attempt counts', () => {
    expect(backoffDelay(10_000, retry, () => 1, 'half')).toBe(60_000);
  });
});
