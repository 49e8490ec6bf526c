// zod fragments every app's config schema reuses, so LOG_LEVEL, ports, flags, durations and hosts
// parse the same way everywhere. Values arrive as strings from the environment.
import { isIP } from 'node:net';
import { z } from 'zod';
import { LOG_LEVELS } from './logger.js';

/** LOG_LEVEL: winston npm levels, case-insensitive, default `info`. */
export const logLevelSchema = z
  .preprocess((v) => (typeof v === 'string' ? v.trim().toLowerCase() : v), z.enum(LOG_LEVELS))
  .default('info');

/** A TCP port (0 = ephemeral, used by tests). */
export function portSchema(defaultPort: number) {
  const error = 'expected a port number (0-65535)';
  return z.coerce
    .number({ error })
    .int({ error })
    .min(0, { error })
    .max(65535, { error })
    .default(defaultPort);
}

const TRUE = new Set(['true', '1', 'yes', 'on']);
const FALSE = new Set(['false', '0', 'no', 'off']);

/** true/false/1/0/yes/no/on/off (any case) as a boolean; anything else is undefined. */
export function parseFlag(value: string | undefined): boolean | undefined {
  const v = value?.trim().toLowerCase();
  if (v === undefined) return undefined;
  if (TRUE.has(v)) return true;
  if (FALSE.has(v)) return false;
  return undefined;
}

/** true/false/1/0/yes/no/on/off (any case); anything else is a configuration error. */
export function booleanFlag(defaultValue: boolean) {
  return z
    .union([z.boolean(), z.string()])
    .transform((value, ctx) => {
      if (typeof value === 'boolean') return value;
      const flag = parseFlag(value);
      if (flag !== undefined) return flag;
      ctx.addIssue({ code: 'custom', message: 'expected true/false (also 1/0, yes/no, on/off)' });
      return z.NEVER;
    })
    .default(defaultValue);
}

/**
 * A comma-separated list (blanks around items and empty items ignored) as a string array; with
 * `whitespace`, spaces, tabs and newlines separate items too. Pipe it into item checks and add
 * `.default([...])` in the app schema.
 */
export function csvList(options: { whitespace?: boolean } = {}) {
  const separator = options.whitespace ? /[\s,]+/ : ',';
  return z.string().transform((v) =>
    v
      .split(separator)
      .map((item) => item.trim())
      .filter((item) => item !== ''),
  );
}

const UNIT_MS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 };

/**
 * A duration in milliseconds: a plain number of ms (`1500`) or a number with a unit
 * (`500ms`, `10s`, `5m`, `1h`, `1.5s`). Add `.default(ms)` in the app schema.
 */
export const durationMs = z.union([z.number(), z.string()]).transform((value, ctx) => {
  if (typeof value === 'number') {
    if (Number.isFinite(value) && value >= 0) return Math.round(value);
  } else {
    const match = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$/i.exec(value);
    if (match) return Math.round(Number(match[1]) * UNIT_MS[(match[2] ?? 'ms').toLowerCase()]!);
  }
  ctx.addIssue({ code: 'custom', message: 'expected a duration such as 1500, 500ms, 10s, 5m or 1h' });
  return z.NEVER;
});

const HOSTNAME =
  /^(?=.{1,253}$)(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$/;

/** A listen address or host name: IPv4, IPv6 (brackets optional) or DNS name; default 0.0.0.0. */
export const hostSchema = z
  .string()
  .trim()
  .transform((v) => (v.startsWith('[') && v.endsWith(']') ? v.slice(1, -1) : v))
  .refine((v) => isIP(v) !== 0 || HOSTNAME.test(v), { message: 'expected an IP address or host name' })
  .default('0.0.0.0');
