// The one root winston logger: one JSON line per entry on stdout, secrets redacted in the format
// itself so no transport or caller can forget it. Modules take `logger.child({ component })`.
import type { Writable } from 'node:stream';
import winston from 'winston';
import type TransportStream from 'winston-transport';
import { redactFields } from './redact.js';

export type Logger = winston.Logger;

export const LOG_LEVELS = ['error', 'warn', 'info', 'http', 'verbose', 'debug', 'silly'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export interface LoggerOptions {
  service: string;
  /** winston npm level; unknown values fall back to `info`. */
  level?: string;
  /** Where lines go; process.stdout by default (tests pass a capture stream). */
  stream?: Writable;
  /**
   * Coalesce the lines of one event-loop turn into one write, flushed at the end of the turn, on
   * `logger.end()` and on process exit (default off: each line is written as it is logged). On
   * process.stdout every write is a synchronous syscall, the largest cost of a written line under
   * load; the price is that a line may reach the pipe just after a response sent in the same turn.
   */
  batch?: boolean;
}

const MESSAGE = Symbol.for('message');
const LEVEL = Symbol.for('level');
// Fields first in every line, in this order, so lines read the same across services.
const LEADING = ['timestamp', 'level', 'message', 'service', 'component', 'requestId'];

/** Redacts, orders and serializes; the last step of the format pipeline. */
const jsonLine = winston.format((info) => {
  // A caller's own `timestamp` field wins.
  if (info.timestamp === undefined) info.timestamp = new Date().toISOString();
  const line = redactFields(info, LEADING);
  if (typeof line.message !== 'string')
    line.message = line.message === undefined ? '' : JSON.stringify(line.message);
  (info as Record<symbol, unknown>)[MESSAGE] = JSON.stringify(line);
  return info;
});

type TransportConstructor = new (options?: TransportStream.TransportStreamOptions) => TransportStream;
// winston's base transport class (winston-transport), taken from winston so it is the same copy.
const Transport = (winston as unknown as { Transport: TransportConstructor }).Transport;

/**
 * One line per entry on `out`, like winston's Stream transport, minus its per-entry `setImmediate`.
 * Batched, the lines of one event-loop turn go out in one write: on process.stdout (a pipe in a
 * container) each write is a synchronous syscall, the largest cost of a log line under load.
 */
class LineTransport extends Transport {
  private pending = '';
  private scheduled = false;

  constructor(
    private readonly out: Writable,
    private readonly batch: boolean,
  ) {
    super();
    if (batch) flushOnExit();
  }

  override log(info: Record<symbol, unknown>, next: () => void): void {
    const line = `${info[MESSAGE] as string}\n`;
    if (!this.batch) {
      this.out.write(line);
    } else {
      this.pending += line;
      if (this.pending.length >= MAX_BATCH_CHARS) this.flush();
      else if (!this.scheduled) {
        this.scheduled = true;
        unflushed.add(this);
        setImmediate(this.flush);
      }
    }
    next();
  }

  /** Writes what is pending (also on process exit: process.stdout writes are synchronous then). */
  readonly flush = (): void => {
    this.scheduled = false;
    unflushed.delete(this);
    if (this.pending === '') return;
    const chunk = this.pending;
    this.pending = '';
    this.out.write(chunk);
  };

  override close(): void {
    this.flush();
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.flush();
    callback();
  }
}

const MAX_BATCH_CHARS = 64 * 1024;
const unflushed = new Set<LineTransport>();
let exitHookInstalled = false;
function flushOnExit(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const transport of [...unflushed]) transport.flush();
  });
}

export function createLogger(options: LoggerOptions): Logger {
  const level = (LOG_LEVELS as readonly string[]).includes(options.level?.toLowerCase() ?? '')
    ? options.level!.toLowerCase()
    : 'info';
  const logger = winston.createLogger({
    level,
    levels: winston.config.npm.levels,
    defaultMeta: { service: options.service },
    format: winston.format.combine(winston.format.errors({ stack: true }), jsonLine()),
    transports: [new LineTransport(options.stream ?? process.stdout, options.batch === true)],
    exitOnError: false,
  });
  return gateByLevel(logger);
}

/** What a hot path logs through: the `log`/`info`/`warn` of a child logger, and its level check. */
export interface LineLogger {
  log(level: LogLevel, message: string, fields?: Record<string, unknown>): void;
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  isLevelEnabled(level: string): boolean;
}

/**
 * For lines written once per request on a hot path (token-server's audit line, every app's request
 * line): the same line as
 * `logger.child(meta).info(message, fields)` (same format, redaction, transport and level rules)
 * without winston's per-entry copies and stream hops, which cost more than the line itself.
 * `logger` must be the root logger (a child's own metadata is not readable); with transports other
 * than service-kit's own, lines take winston's ordinary path.
 */
export function lineLogger(logger: Logger, meta: Record<string, unknown>): LineLogger {
  const noop = () => undefined;
  // Read once: winston's `transports` getter and isLevelEnabled allocate on every call, which on a
  // line per request made a share of the young-generation garbage. The root logger's transports are
  // fixed at createLogger; its level may change at run time and is read on each line.
  const transports = logger.transports;
  const transport = transports.length === 1 ? transports[0] : undefined;
  const direct = transport instanceof LineTransport;
  const levels = logger.levels as Record<string, number | undefined>;
  const ownTransportLevel = transports.some((t) => t.level !== undefined);
  const enabled = (level: string): boolean => {
    const value = levels[level];
    const threshold = levels[logger.level];
    if (value === undefined || threshold === undefined || ownTransportLevel)
      return logger.isLevelEnabled(level);
    return value <= threshold;
  };
  const write = (level: LogLevel, message: string, fields: Record<string, unknown> = {}) => {
    if (!enabled(level)) return;
    const info: Record<string | symbol, unknown> = {
      ...logger.defaultMeta,
      ...meta,
      ...fields,
      level,
      message,
    };
    info[LEVEL] = level;
    if (!direct || logger.silent || transport.silent) {
      logger.log(info as unknown as winston.LogEntry);
      return;
    }
    const line = logger.format.transform(info as winston.Logform.TransformableInfo, logger.format.options);
    if (line) transport.log(line as Record<symbol, unknown>, noop);
  };
  return {
    log: write,
    info: (message, fields) => write('info', message, fields),
    warn: (message, fields) => write('warn', message, fields),
    isLevelEnabled: enabled,
  };
}

type LogFn = (this: Logger, ...args: unknown[]) => Logger;

/**
 * winston builds, formats (redacts, serializes) and streams every entry and only its transport drops
 * the ones below the level, so a hidden `debug` line cost as much as a written one. This puts the
 * level check first: on the root logger's level methods, `log` and `write`, which every child
 * (`Object.create(root)`) inherits. It reads `logger.level` on each call, so changing the level at
 * run time still works; unknown level names take winston's own path (it warns about them).
 */
function gateByLevel(root: Logger): Logger {
  const levels = root.levels as Record<string, number | undefined>;
  const hidden = (name: unknown): boolean => {
    if (typeof name !== 'string') return false;
    const value = levels[name];
    if (value === undefined) return false;
    const threshold = levels[root.level];
    if (threshold !== undefined && value <= threshold) return false;
    // A transport may have its own, more verbose level: winston's full check decides then.
    return !root.isLevelEnabled(name);
  };
  const methods = root as unknown as Record<string, LogFn>;
  for (const name of Object.keys(levels)) {
    const original = methods[name]!;
    methods[name] = function (this: Logger, ...args: unknown[]) {
      return hidden(name) ? this : original.apply(this, args);
    };
  }
  const log = methods.log!;
  methods.log = function (this: Logger, ...args: unknown[]) {
    const first = args[0];
    const name = typeof first === 'object' && first !== null ? (first as { level?: unknown }).level : first;
    return hidden(name) ? this : log.apply(this, args);
  };
  // Direct `write(info)` calls, and what a child's write forwards.
  const write = root.write.bind(root) as (info: unknown, ...rest: unknown[]) => boolean;
  root.write = ((info: unknown, ...rest: unknown[]) => {
    const entry = info as Record<string | symbol, unknown> | null;
    if (typeof entry === 'object' && entry !== null && hidden(entry[LEVEL] ?? entry.level)) return true;
    return write(info, ...rest);
  }) as Logger['write'];
  return root;
}
