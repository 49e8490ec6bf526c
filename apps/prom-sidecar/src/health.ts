// The seed's /health document: {status, token_valid, expires_at, time_to_expiry, timestamp}, with
// time_to_expiry formatted as Python's str(timedelta) ("0:29:45.123456") as the seed printed it.
import type { TokenStatusLike } from '@auth-sidecars/proxy-kit';

export interface SeedHealth {
  status: 'healthy' | 'unhealthy';
  token_valid: boolean;
  expires_at: string | null;
  time_to_expiry: string | null;
  timestamp: string;
}

/** ISO 8601 in UTC without milliseconds, as the seed wrote it: 2025-09-07T15:30:00Z. */
export function isoSeconds(date: Date): string {
  return `${date.toISOString().slice(0, 19)}Z`;
}

/** Python `str(datetime.timedelta(milliseconds=ms))`, e.g. "0:29:45.123000", "1 day, 2:00:00", "-1 day, 23:59:59". */
export function formatTimedelta(ms: number): string {
  const totalMicros = Math.round(ms * 1000);
  const dayMicros = 86_400_000_000;
  const days = Math.floor(totalMicros / dayMicros);
  let rest = totalMicros - days * dayMicros;
  const micros = rest % 1_000_000;
  rest = (rest - micros) / 1_000_000;
  const seconds = rest % 60;
  const minutes = Math.floor(rest / 60) % 60;
  const hours = Math.floor(rest / 3600);
  const clock = `${hours}:${String(minutes).padStart(2, '0')}:${String(seconds).padStart(2, '0')}${micros === 0 ? '' : `.${String(micros).padStart(6, '0')}`}`;
  if (days === 0) return clock;
  return `${days} day${Math.abs(days) === 1 ? '' : 's'}, ${clock}`;
}

export function seedHealth(status: TokenStatusLike, now: Date = new Date()): SeedHealth {
  const expiresAt = status.expiresAt;
  return {
    status: status.valid ? 'healthy' : 'unhealthy',
    token_valid: status.valid,
    expires_at: expiresAt === undefined ? null : isoSeconds(expiresAt),
    time_to_expiry: expiresAt === undefined ? null : formatTimedelta(expiresAt.getTime() - now.getTime()),
    timestamp: isoSeconds(now),
  };
}
