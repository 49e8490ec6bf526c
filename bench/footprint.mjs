// Issue 16 in one run: every figure of "a sidecar that costs little in every pod" beside its goal.
// Runs the openai-proxy, prom-sidecar, token-server, carta-forwardauth and aks-broker benchmarks one
// after the other (each app as its image runs it: bench/lib/deployed.mjs) and the image sizes
// (podman, when the images are there; the app layer as this checkout builds it, the bundled
// runtime tree, always), then prints one table with the load average at the start
// and the end (the machine is shared: the figures are medians of interleaved rounds, see each
// benchmark). Prints, never asserts.
//   npx turbo run build && node bench/footprint.mjs
//   BENCH_IMAGES=localhost/auth-sidecars/{app}:dev node bench/footprint.mjs   (image sizes too)
// BENCH_ONLY=openai-proxy,aks-broker runs a subset.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeBundledTree } from '../scripts/runtime-tree.mjs';
import { goalRow, loadAverage, printGoals } from './lib/harness.mjs';

/** Issue 16's goal for an image: the app's layers above the Node base. */
export const IMAGE_GOAL_MB = 30;
const BASE_IMAGE = process.env.BENCH_BASE_IMAGE ?? 'node:24-bookworm-slim';
const APPS = ['openai-proxy', 'prom-sidecar', 'token-server', 'carta-forwardauth', 'aks-broker'];

/** Image size in MB (podman), or undefined when podman or the image is missing. */
function imageMb(ref) {
  try {
    const bytes = execFileSync('podman', ['image', 'inspect', ref, '--format', '{{.Size}}'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    return Number(bytes.trim()) / 1e6;
  } catch {
    return undefined;
  }
}

/** The image goals: each app image's size minus the base's (BENCH_IMAGES names them, {app} replaced). */
export function imageRows(pattern = process.env.BENCH_IMAGES) {
  if (!pattern)
    return [
      goalRow(
        'images: app layers above the base (MB)',
        'not measured (set BENCH_IMAGES)',
        `<= ${IMAGE_GOAL_MB}`,
        undefined,
      ),
    ];
  const base = imageMb(BASE_IMAGE);
  return APPS.map((app) => {
    const size = imageMb(pattern.replaceAll('{app}', app));
    const added = size === undefined || base === undefined ? undefined : size - base;
    return goalRow(
      `${app} image: size, layers above ${BASE_IMAGE} (MB)`,
      added === undefined
        ? 'image not found'
        : `${size.toFixed(1)}, +${added.toFixed(1)} above ${base.toFixed(1)}`,
      `<= +${IMAGE_GOAL_MB}`,
      added === undefined ? undefined : added <= IMAGE_GOAL_MB,
    );
  });
}

/** Bytes of the files under `dir` (what a COPY of it adds to an image's layer, give or take metadata). */
function treeBytes(dir) {
  let total = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) total += statSync(join(entry.parentPath, entry.name)).size;
  }
  return total;
}

/**
 * The app layer as this checkout would build it: the bundled runtime tree the image's build stage
 * copies into the runtime stage (its only layer above the base). Measured without building an image.
 */
export async function treeRows() {
  const root = join(import.meta.dirname, '..');
  return Promise.all(
    APPS.map(async (app) => {
      const dir = mkdtempSync(join(tmpdir(), `footprint-tree-${app}-`));
      try {
        await writeBundledTree(root, `apps/${app}`, join(dir, 'app'));
        const mb = treeBytes(join(dir, 'app')) / 1e6;
        return goalRow(
          `${app}: app layer, the bundled runtime tree of this checkout (MB)`,
          `+${mb.toFixed(1)}`,
          `<= +${IMAGE_GOAL_MB}`,
          mb <= IMAGE_GOAL_MB,
        );
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }),
  );
}

const only = process.env.BENCH_ONLY?.split(',');
const wanted = (app) => only === undefined || only.includes(app);
const started = loadAverage();
const rows = [];
for (const app of APPS.filter(wanted)) {
  console.log(`\n===== ${app} =====`);
  try {
    const { run } = await import(`./${app}.mjs`);
    rows.push(...(await run()));
  } catch (error) {
    // One benchmark failing leaves the others' figures standing; the row says which is missing.
    console.error(error);
    rows.push(goalRow(`${app}: benchmark failed`, String(error.message).split('\n')[0], '-', false));
  }
}
rows.push(...(await treeRows()), ...imageRows());
printGoals(
  `issue 16, every figure beside its goal (load average at the start ${started}, at the end ${loadAverage()}; 2 CPUs shared with other work)`,
  rows,
);
