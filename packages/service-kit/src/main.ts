// Process entry shell for every app: build the service from the environment, turn configuration
// errors into one message and exit 78, and on SIGTERM/SIGINT close gracefully exactly once.
import { ConfigError } from './errors.js';
import { createLogger, type Logger } from './logger.js';
import { redactString } from './redact.js';
import { parseFlag } from './schema.js';
import { shutdownState } from './server.js';
import type { Env } from './config.js';

export interface MainContext {
  env: Env;
  logger: Logger;
}

export interface Stoppable {
  /** Graceful stop; may resolve `false` (as RunningServer.close does) when the drain deadline was blown. */
  close(): Promise<unknown>;
}

export interface RunMainOptions {
  env?: Env;
  logger?: Logger;
  /** Hard stop after a signal if close() hangs (default: longest serve() deadline + 5 s). */
  forceExitAfterMs?: number;
  /**
   * LOG_BATCH when the environment does not set it (default false). An app whose hot path writes
   * a line per request (token-server's audit line) turns it on: one stdout write per event-loop turn.
   */
  logBatchDefault?: boolean;
}

export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;

/**
 * Runs `start` and keeps the process alive until SIGTERM/SIGINT. Exit codes: 0 after a clean drain,
 * 1 if the drain deadline was blown or startup failed, 78 (EX_CONFIG) for a ConfigError.
 */
export async function runMain(
  service: string,
  start: (ctx: MainContext) => Promise<Stoppable>,
  options: RunMainOptions = {},
): Promise<void> {
  const env = options.env ?? process.env;
  const logger =
    options.logger ??
    createLogger({
      service,
      level: env.LOG_LEVEL,
      batch: parseFlag(env.LOG_BATCH) ?? options.logBatchDefault ?? false,
    });
  let running: Stoppable | undefined;
  let stopping = false;

  process.on('unhandledRejection', (reason) => {
    logger.error('unhandled promise rejection', { err: reason });
  });
  process.on('uncaughtException', (error) => {
    logger.error('uncaught exception, exiting', { err: error });
    exit(EXIT_FAILURE);
  });

  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) {
      logger.warn('already shutting down, signal ignored', { signal });
      return;
    }
    stopping = true;
    logger.info('shutting down', { signal });
    const forceMs = options.forceExitAfterMs ?? (shutdownState.maxShutdownTimeoutMs || 10_000) + 5_000;
    setTimeout(() => {
      logger.error('shutdown did not finish in time, exiting', { forceExitAfterMs: forceMs });
      exit(EXIT_FAILURE);
    }, forceMs).unref();
    const blownBefore = shutdownState.deadlineExceeded;
    void startup
      .then(async () => {
        // Startup failed: exit() is already under way.
        if (!running) return;
        const result = await running.close();
        const drained = result !== false && shutdownState.deadlineExceeded === blownBefore;
        logger.info('stopped', { drained });
        exit(drained ? EXIT_OK : EXIT_FAILURE);
      })
      .catch((error: unknown) => {
        logger.error('shutdown failed', { err: error });
        exit(EXIT_FAILURE);
      });
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);

  // A start() that throws before its first await (a config loaded in a plain arrow) is a rejection too.
  const startup = Promise.resolve()
    .then(() => start({ env, logger }))
    .then(
      (value) => {
        running = value;
      },
      (error: unknown) => {
        if (error instanceof ConfigError) {
          logger.error(`invalid configuration: ${error.issues.join('; ')}`, { issues: error.issues });
          process.stderr.write(`${service}: ${redactString(error.message)}\n`);
          exit(ConfigError.EXIT_CODE);
        } else {
          const reason = error instanceof Error ? error.message : String(error);
          logger.error(`startup failed: ${reason}`, { err: error });
          process.stderr.write(`${service}: startup failed: ${redactString(reason)}\n`);
          exit(EXIT_FAILURE);
        }
      },
    );
  await startup;
}

let exiting = false;
/** Lets the log pipeline flush, then exits even if stray handles (timers, agents) remain. */
function exit(code: number): void {
  if (exiting) return;
  exiting = true;
  process.exitCode = code;
  setTimeout(() => process.exit(code), 100).unref();
}
