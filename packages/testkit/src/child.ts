// Stopping a server the tests started as a child process, the same way for every launcher.
import type { ChildProcess } from 'node:child_process';

export interface StopOptions {
  /** First signal (default SIGTERM; nginx stops gracefully on SIGQUIT). */
  signal?: NodeJS.Signals;
  /** SIGKILL after this long if it has not exited (default 5 s). */
  graceMs?: number;
}

/**
 * Sends `signal`, then SIGKILL after `graceMs`, and resolves with what `exited` resolves to once
 * the child is gone; a child that already exited is left alone.
 */
export async function stopChild<T>(
  child: ChildProcess,
  exited: Promise<T>,
  options: StopOptions = {},
): Promise<T> {
  if (child.exitCode !== null || child.signalCode !== null) return exited;
  child.kill(options.signal ?? 'SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), options.graceMs ?? 5_000);
  try {
    return await exited;
  } finally {
    clearTimeout(timer);
  }
}
