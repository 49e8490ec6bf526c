// Test helpers: a stream that captures log lines, and an in-process app on an ephemeral port.
import { Writable } from 'node:stream';
import { createLogger, type Logger } from '../src/logger.js';

export interface CapturedLogger {
  logger: Logger;
  /** Raw lines written so far. */
  lines: string[];
  /** Parsed JSON entries so far. */
  entries(): Array<Record<string, unknown>>;
  text(): string;
}

export function captureLogger(level = 'debug', service = 'test-svc'): CapturedLogger {
  const lines: string[] = [];
  let partial = '';
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      partial += chunk.toString('utf8');
      const parts = partial.split('\n');
      partial = parts.pop() ?? '';
      lines.push(...parts.filter((l) => l !== ''));
      cb();
    },
  });
  const logger = createLogger({ service, level, stream });
  return {
    logger,
    lines,
    entries: () => lines.map((l) => JSON.parse(l) as Record<string, unknown>),
    text: () => lines.join('\n'),
  };
}

/** Waits until `predicate` holds (winston delivers to transports asynchronously). */
export { until } from '@auth-sidecars/testkit/wait';

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Value of the sample `name` whose labels include `labels` in Prometheus text, or undefined. */
export function sample(text: string, name: string, labels: Record<string, string>): number | undefined {
  for (const line of text.split('\n')) {
    const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const found: Record<string, string> = {};
    for (const pair of (match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) found[pair[1]!] = pair[2]!;
    if (Object.entries(labels).every(([k, v]) => found[k] === v)) return Number(match[3]);
  }
  return undefined;
}
