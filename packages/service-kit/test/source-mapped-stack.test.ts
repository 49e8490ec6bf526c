// A minified bundle's stack, as a process without --enable-source-maps prints it, is logged with the
// TypeScript source's positions: the map beside the bundle is read when the stack is logged.
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { build } from 'esbuild';
import { sourceMappedStack } from '../src/source-mapped-stack.js';
import { captureLogger } from './helpers.js';

const run = promisify(execFile);
let dir: string;
let bundle: string;

/** The stack of the bundle's error, printed by a plain `node` (no source map support on). */
async function bundleStack(): Promise<string> {
  const script = `import('${bundle}').then((m) => { try { m.explode(); } catch (e) { console.log(e.stack); } });`;
  const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script]);
  return stdout.trim();
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mapped-stack-'));
  await writeFile(
    join(dir, 'thrower.ts'),
    [
      'export function explode(): never {',
      "  const reason: string = ['b', 'o', 'o', 'm'].join('');",
      '  throw new Error(reason);',
      '}',
      '',
    ].join('\n'),
  );
  bundle = join(dir, 'out', 'bundle.mjs');
  await build({
    entryPoints: [join(dir, 'thrower.ts')],
    outfile: bundle,
    bundle: true,
    minify: true,
    format: 'esm',
    platform: 'node',
    sourcemap: 'linked',
    sourcesContent: false,
    logLevel: 'silent',
  });
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('sourceMappedStack', () => {
  it('rewrites the bundle frame to the TypeScript line and column', async () => {
    const stack = await bundleStack();
    expect(stack).toMatch(/bundle\.mjs:1:\d+/); // minified: everything on line 1
    expect(stack).not.toContain('thrower.ts');
    const mapped = sourceMappedStack(stack);
    expect(mapped).toContain(`${join(dir, 'thrower.ts')}:3:`);
    expect(mapped).not.toMatch(/bundle\.mjs:1:\d+/);
    expect(mapped.split('\n')[0]).toBe('Error: boom');
  });

  it('maps frame lines only, not a message that looks like one', async () => {
    const stack = await bundleStack();
    const message = `Error: GET ${bundle}:1:99 failed`;
    const mapped = sourceMappedStack([message, ...stack.split('\n').slice(1)].join('\n'));
    expect(mapped.split('\n')[0]).toBe(message);
    expect(mapped).toContain(`${join(dir, 'thrower.ts')}:3:`);
  });

  it('leaves frames of files without a map as they are', () => {
    const stack = 'Error: x\n    at f (/nowhere/plain.js:10:5)\n    at node:internal/main:1:1';
    expect(sourceMappedStack(stack)).toBe(stack);
  });

  it('is what the logger writes for an error that is a bug', async () => {
    const error = new Error('boom');
    error.stack = await bundleStack();
    const { logger, lines } = captureLogger();
    logger.error('it broke', { err: error });
    const line = JSON.parse(lines.at(-1)!) as { err: { stack: string } };
    expect(line.err.stack).toContain(`${join(dir, 'thrower.ts')}:3:`);
  });
});
