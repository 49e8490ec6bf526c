import { computeRefreshAt } from '../src/refresh-policy.js';

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
