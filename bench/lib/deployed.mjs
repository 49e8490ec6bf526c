// What the benchmarks run: an app as its image runs it. The runtime tree the image's build stage
// writes (scripts/runtime-tree.mjs --bundle: the bundle and only what cannot be bundled), started
// with the image's node flags and environment (runtimeCommand in scripts/gen-dockerfiles.mjs).
// Needs the workspaces built (npx turbo run build).
//
// BENCH_BEFORE=<dir> runs another tree instead, laid out as <dir>/<app>/apps/<app>/dist/main.js
// with plain `node` (how the images ran before the bundle), for a before/after comparison:
//   for a in openai-proxy ...; do node scripts/runtime-tree.mjs apps/$a /tmp/before/$a; done
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runtimeCommand } from '../../scripts/gen-dockerfiles.mjs';
import { writeBundledTree } from '../../scripts/runtime-tree.mjs';

const root = join(import.meta.dirname, '..', '..');

/**
 * `{ entry, nodeArgs, env, label, close }` for `app` (its folder name): `startApp(entry, { ...env,
 * ...appEnv }, { nodeArgs })` runs it. close() removes the tree.
 */
export async function deployedApp(app) {
  const before = process.env.BENCH_BEFORE;
  if (before) {
    const entry = join(before, app, 'apps', app, 'dist', 'main.js');
    if (!existsSync(entry)) throw new Error(`BENCH_BEFORE: ${entry} is missing`);
    return { entry, nodeArgs: [], env: {}, label: `${app} (${before})`, close: async () => undefined };
  }
  if (!existsSync(join(root, 'apps', app, 'dist', 'main.js')))
    throw new Error(`apps/${app}/dist/main.js is missing: run npx turbo run build first`);
  const dir = mkdtempSync(join(tmpdir(), `bench-${app}-`));
  const tree = join(dir, 'app');
  await writeBundledTree(root, `apps/${app}`, tree);
  const command = runtimeCommand(app);
  return {
    entry: join(tree, command.entry),
    nodeArgs: command.nodeArgs,
    env: command.env,
    label: `${app} (image command: bundle, ${command.nodeArgs.join(' ')})`,
    close: async () => rmSync(dir, { recursive: true, force: true }),
  };
}
