// Where the apps' built entry points are, and small helpers the per-app suites share.
import { once } from 'node:events';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { launchApp, type LaunchedProcess } from '@auth-sidecars/testkit/process';
import type { AppName } from './known-issues.js';

export const REPO_ROOT = join(import.meta.dirname, '..', '..', '..', '..');

export function appEntry(app: AppName): string {
  return join(REPO_ROOT, 'apps', app, 'dist', 'main.js');
}

/** Starts `node apps/<app>/dist/main.js` with exactly `env` (plus PATH and HOME). */
export function startApp(app: AppName, env: Record<string, string>): Promise<LaunchedProcess> {
  // Loading the SDKs takes a while on a busy machine.
  return launchApp(appEntry(app), {
    env: { HOST: '127.0.0.1', PORT: '0', LOG_LEVEL: 'debug', ...env },
    startTimeoutMs: 90_000,
  });
}

/** A run of a PEM private key's base64 body: enough to recognise the key anywhere. */
export function keyExcerpt(pem: string): string {
  const body = pem
    .split('\n')
    .filter((l) => !l.startsWith('-----'))
    .join('');
  return body.slice(Math.floor(body.length / 2), Math.floor(body.length / 2) + 48);
}

/**
 * A token check that verifies each distinct token once: the stand-ins verify every bearer, and an
 * RS256 verification per request was most of the fuzz run's CPU.
 */
export function memoize<T>(verify: (token: string) => Promise<T>): (token: string) => Promise<T> {
  const seen = new Map<string, Promise<T>>();
  return (token) => {
    let result = seen.get(token);
    if (result === undefined) {
      if (seen.size > 1000) seen.clear();
      result = verify(token);
      result.catch(() => undefined);
      seen.set(token, result);
    }
    return result;
  };
}

/** A free loopback port, for an app whose public URL must be known before it listens. */
export async function freePort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  server.close();
  await once(server, 'close');
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}
