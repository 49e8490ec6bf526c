// Starts an app's built entry point (`node dist/main.js`) as a child process on Node 24 and waits
// for service-kit's `listening` log line, so e2e tests exercise the real main.ts wiring.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { stopChild } from './child.js';

export interface LaunchedProcess {
  /** Base URL from the `listening` log line, e.g. http://127.0.0.1:41234 */
  url: string;
  child: ChildProcess;
  /** Every stdout/stderr line so far (JSON log lines and anything else). */
  lines: string[];
  /** Parsed JSON log lines so far. */
  logs(): Array<Record<string, unknown>>;
  /** Resolves with the exit code once the process ended and its output was read completely. */
  exited: Promise<number | null>;
  /** Resolves with the first JSON log line (past or future) matching `match` (a message or a predicate). */
  waitForLog(
    match: string | ((entry: Record<string, unknown>) => boolean),
    timeoutMs?: number,
  ): Promise<Record<string, unknown>>;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves with the exit code. */
  close(graceMs?: number): Promise<number | null>;
}

export interface LaunchOptions {
  env: Record<string, string | undefined>;
  /** Milliseconds to wait for the `listening` line. */
  startTimeoutMs?: number;
  /** Do not wait for `listening` (for tests of startup failures). */
  waitForListening?: boolean;
  cwd?: string;
}

export async function launchApp(entry: string, options: LaunchOptions): Promise<LaunchedProcess> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries({ PATH: process.env.PATH, HOME: process.env.HOME, ...options.env })) {
    if (v !== undefined) env[k] = v;
  }
  // process.execPath is the Node the tests run on (24, from the repo's `node` package).
  const child = spawn(process.execPath, bundledEntry(entry) ?? [entry], {
    env,
    cwd: options.cwd,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  // 'close' (not 'exit'): fires after stdout/stderr ended, so `lines` is complete when this resolves.
  const exited = once(child, 'close').then(([code]) => code as number | null);
  const lineListeners = new Set<() => void>();
  let resolveUrl!: (url: string) => void;
  const urlSeen = new Promise<string>((resolve) => (resolveUrl = resolve));
  for (const stream of [child.stdout!, child.stderr!]) {
    createInterface({ input: stream }).on('line', (line) => {
      lines.push(line);
      for (const listener of lineListeners) listener();
      const parsed = parseJson(line);
      if (parsed?.message === 'listening' && typeof parsed.url === 'string') resolveUrl(parsed.url);
    });
  }
  const logs = () => lines.map(parseJson).filter((l): l is Record<string, unknown> => l !== undefined);
  const waitForLog = (match: string | ((entry: Record<string, unknown>) => boolean), timeoutMs = 10_000) => {
    const test = typeof match === 'string' ? (e: Record<string, unknown>) => e.message === match : match;
    return new Promise<Record<string, unknown>>((resolve, reject) => {
      let settled = false;
      const finish = (settle: () => void) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        lineListeners.delete(check);
        settle();
      };
      const check = () => {
        const found = logs().find(test);
        if (found) finish(() => resolve(found));
      };
      const describe = `a log line matching ${typeof match === 'string' ? JSON.stringify(match) : 'the predicate'}`;
      const timer = setTimeout(
        () => finish(() => reject(new Error(`no ${describe} within ${timeoutMs} ms:\n${lines.join('\n')}`))),
        timeoutMs,
      );
      lineListeners.add(check);
      check();
      // All output is read once `exited` resolves: a last look, then give up.
      void exited.then(() => {
        check();
        finish(() => reject(new Error(`process exited without ${describe}:\n${lines.join('\n')}`)));
      });
    });
  };
  const close = (graceMs = 10_000) => stopChild(child, exited, { graceMs });
  if (options.waitForListening === false) return { url: '', child, lines, logs, exited, close, waitForLog };

  // Generous: a cold start imports the SDKs, which takes seconds on a loaded 2-core machine.
  const timeoutMs = options.startTimeoutMs ?? 60_000;
  let timer: NodeJS.Timeout | undefined;
  const url = await Promise.race([
    urlSeen,
    exited.then((code) => {
      throw new Error(`${entry} exited with ${code} before listening:\n${lines.join('\n')}`);
    }),
    new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`${entry} did not log 'listening' in ${timeoutMs} ms:\n${lines.join('\n')}`)),
        timeoutMs,
      );
    }),
  ]).finally(() => clearTimeout(timer));
  return { url, child, lines, logs, exited, close, waitForLog };
}

function parseJson(line: string): Record<string, unknown> | undefined {
  if (!line.startsWith('{')) return undefined;
  try {
    return JSON.parse(line) as Record<string, unknown>;
  } catch {
    return undefined;
  }
}

/**
 * E2E_BUNDLES=<dir>: an app's `apps/<app>/dist/main.js` runs as its image runs it instead, the
 * bundle in `<dir>/<app>` (`node scripts/runtime-tree.mjs --bundle apps/<app> <dir>/<app>`) with
 * source maps on, so an app's e2e suite can be pointed at the bundle. Unset: the entry as given.
 */
function bundledEntry(entry: string): string[] | undefined {
  const dir = process.env.E2E_BUNDLES;
  const app = /[\\/]apps[\\/]([^\\/]+)[\\/]dist[\\/]main\.js$/.exec(entry)?.[1];
  if (!dir || !app) return undefined;
  const bundle = join(dir, app, 'apps', app, 'bundle', 'main.js');
  if (!existsSync(bundle))
    throw new Error(`E2E_BUNDLES: ${bundle} is missing (scripts/runtime-tree.mjs --bundle)`);
  return ['--enable-source-maps', bundle];
}
