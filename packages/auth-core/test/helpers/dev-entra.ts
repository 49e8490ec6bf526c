// Shared setup for the tests that run the real @azure/identity against dev-entra over HTTPS.
import { mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const SCOPE = 'api://auth-core-test/.default';

export function claimsOf(jwt: string): Record<string, unknown> {
  const payload = jwt.split('.')[1];
  if (!payload) throw new Error('not a JWT');
  return JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Record<string, unknown>;
}

export async function tempDir(): Promise<{
  path: string;
  file: (name: string) => string;
  remove: () => Promise<void>;
}> {
  const path = await mkdtemp(join(tmpdir(), 'auth-core-test-'));
  return { path, file: (name) => join(path, name), remove: () => rm(path, { recursive: true, force: true }) };
}

/** Replaces a file the way the kubelet updates a Secret volume: write elsewhere, then rename over. */
export async function replaceFile(path: string, content: string): Promise<void> {
  const staging = `${path}.${process.pid}.${Date.now()}.tmp`;
  await writeFile(staging, content, { mode: 0o600 });
  await rename(staging, path);
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
