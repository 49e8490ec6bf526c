// The one root winston logger: one JSON line per entry on stdout, secrets redacted in the format
// itself so no transport or caller can forget it. Modules take `logger.child({ component })`.
import type { Writable } from 'node:stream';
import winston from 'winston';
import { redact } from './redact.js';

export type Logger = winston.Logger;

export const LOG_LEVELS = ['error', 'warn', 'info', 'http', 'verbose', 'debug', 'silly'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export interface LoggerOptions {
  service: string;
  /** winston npm level; unknown values fall back to `info`. */
  level?: string;
  /** Where lines go; process.stdout by default (tests pass a capture stream). */
  stream?: Writable;
}

const MESSAGE = Symbol.for('message');
// Fields first in every line, in this order, so lines read the same across services.
const LEADING = ['timestamp', 'level', 'message', 'service', 'component', 'requestId'];

/** Redacts, orders and serializes; the last step of the format pipeline. */
const jsonLine = winston.format((info) => {
  const fields = redact({ ...info }) as Record<string, unknown>;
  const ordered: Record<string, unknown> = { timestamp: new Date().toISOString() };
  for (const key of LEADING) if (fields[key] !== undefined) ordered[key] = fields[key];
  for (const [key, value] of Object.entries(fields))
    if (!(key in ordered) && value !== undefined) ordered[key] = value;
  if (typeof ordered.message !== 'string')
    ordered.message = ordered.message === undefined ? '' : JSON.stringify(ordered.message);
  (info as Record<symbol, unknown>)[MESSAGE] = JSON.stringify(ordered);
  return info;
});

export function createLogger(options: LoggerOptions): Logger {
  const level = (LOG_LEVELS as readonly string[]).includes(options.level?.toLowerCase() ?? '')
    ? options.level!.toLowerCase()
    : 'info';
  return winston.createLogger({
    level,
    levels: winston.config.npm.levels,
    defaultMeta: { service: options.service },
    format: winston.format.combine(winston.format.errors({ stack: true }), jsonLine()),
    transports: [new winston.transports.Stream({ stream: options.stream ?? process.stdout })],
    exitOnError: false,
  });
}
