// Starts an app's built entry point (`node dist/main.js`) as a child process on Node 24 and waits
// for service-kit's `listening` log line, so e2e tests exercise the real main.ts wiring.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';

export interface LaunchedProcess {
  /** Base URL from the `listening` log line, e.g. http://127.0.0.1:41234 */
  url: string;
  child: ChildProcess;
  /** Every stdout/stderr line so far (JSON log lines and anything else). */
  lines: string[];
  /** Parsed JSON log lines so far. */
  logs(): Array<Record<string, unknown>>;
  /** Resolves with the exit code. */
  exited: Promise<number | null>;
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
  const child = spawn(process.execPath, [entry], { env, cwd: options.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: string[] = [];
  const exited = once(child, 'exit').then(([code]) => code as number | null);
  let resolveUrl!: (url: string) => void;
  const urlSeen = new Promise<string>((resolve) => (resolveUrl = resolve));
  for (const stream of [child.stdout!, child.stderr!]) {
    createInterface({ input: stream }).on('line', (line) => {
      lines.push(line);
      const parsed = parseJson(line);
      if (parsed?.message === 'listening' && typeof parsed.url === 'string') resolveUrl(parsed.url);
    });
  }
  const logs = () => lines.map(parseJson).filter((l): l is Record<string, unknown> => l !== undefined);
  const close = async (graceMs = 10_000) => {
    if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    const code = await exited;
    clearTimeout(timer);
    return code;
  };
  if (options.waitForListening === false) return { url: '', child, lines, logs, exited, close };

  const timeoutMs = options.startTimeoutMs ?? 15_000;
  let timer: NodeJS.Timeout | undefined;
  const url = await Promise.race([
    urlSeen,
    exited.then((code) => {
      throw new Error(`${entry} exited with ${code} before listening:\n${lines.join('\n')}`);
    }),
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${entry} did not log 'listening' in ${timeoutMs} ms:\n${lines.join('\n')}`)), timeoutMs);
    }),
  ]).finally(() => clearTimeout(timer));
  return { url, child, lines, logs, exited, close };
}

function parseJson(line: string): Record<string, unknown> | undefined {
  if (!line.startsWith('{')) return undefined;
  try {
    return JSON.parse(line) as Record<string, unknown>;
  } catch {
    return undefined;
  }
}
