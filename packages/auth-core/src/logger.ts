// The slice of a winston logger auth-core uses, so it can take service-kit's logger (or none).

type LogMethod = (message: string, meta?: Record<string, unknown>) => unknown;

export interface LoggerLike {
  error: LogMethod;
  warn: LogMethod;
  info: LogMethod;
  debug: LogMethod;
  child?: (meta: Record<string, unknown>) => LoggerLike;
}

const noop = () => undefined;
export const silentLogger: LoggerLike = { error: noop, warn: noop, info: noop, debug: noop };

export function componentLogger(logger: LoggerLike | undefined, component: string): LoggerLike {
  if (!logger) return silentLogger;
  return logger.child ? logger.child({ component }) : logger;
}
