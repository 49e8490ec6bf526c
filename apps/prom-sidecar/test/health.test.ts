import { formatTimedelta, isoSeconds, seedHealth } from '../src/health.js';

describe('formatTimedelta', () => {
  it('formats like Python str(timedelta)', () => {
    expect(formatTimedelta(29 * 60_000 + 45_123.456)).toBe('0:29:45.123456');
    expect(formatTimedelta(5000)).toBe('0:00:05');
    expect(formatTimedelta(26 * 3600_000)).toBe('1 day, 2:00:00');
    expect(formatTimedelta(3 * 86_400_000)).toBe('3 days, 0:00:00');
    expect(formatTimedelta(-1000)).toBe('-1 day, 23:59:59');
  });
});

describe('seedHealth', () => {
  const now = new Date('2025-09-07T15:00:15.000Z');

  it('is the seed document for a valid token', () => {
    const expiresAt = new Date('2025-09-07T15:30:00.000Z');
    expect(
      seedHealth(
        { valid: true, expiresAt, refreshAt: undefined, lastError: undefined, consecutiveFailures: 0 },
        now,
      ),
    ).toEqual({
      status: 'healthy',
      token_valid: true,
      expires_at: '2025-09-07T15:30:00Z',
      time_to_expiry: '0:29:45',
      timestamp: '2025-09-07T15:00:15Z',
    });
  });

  it('is unhealthy without a token', () => {
    expect(
      seedHealth(
        { valid: false, expiresAt: undefined, refreshAt: undefined, lastError: 'x', consecutiveFailures: 3 },
        now,
      ),
    ).toEqual({
      status: 'unhealthy',
      token_valid: false,
      expires_at: null,
      time_to_expiry: null,
      timestamp: isoSeconds(now),
    });
  });
});
