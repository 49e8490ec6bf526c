// Docker cannot run on the build machines, so the images are checked statically: stage layout,
// non-root runtime, the entry point the build produces, and what `turbo prune` hands the build.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from './support/repo.js';

const apps = readdirSync(join(repoRoot, 'apps'));

interface Instruction {
  keyword: string;
  args: string;
}

function parseDockerfile(text: string): Instruction[] {
  const joined = text.replace(/\\\n/g, ' ');
  return joined
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'))
    .map((l) => {
      const [keyword = '', ...rest] = l.split(/\s+/);
      return { keyword: keyword.toUpperCase(), args: rest.join(' ') };
    });
}

function stages(instructions: Instruction[]): Array<{ name: string; body: Instruction[] }> {
  const result: Array<{ name: string; body: Instruction[] }> = [];
  for (const i of instructions) {
    if (i.keyword === 'FROM') result.push({ name: /\bAS\s+(\S+)/i.exec(i.args)?.[1] ?? '', body: [] });
    else result.at(-1)?.body.push(i);
  }
  return result;
}

/** Workspace dependencies of a workspace, transitively, as package names. */
function workspaceDeps(dir: string, seen = new Set<string>()): Set<string> {
  const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as {
    dependencies?: Record<string, string>;
  };
  for (const name of Object.keys(pkg.dependencies ?? {})) {
    if (!name.startsWith('@auth-sidecars/') || seen.has(name)) continue;
    seen.add(name);
    workspaceDeps(join(repoRoot, 'packages', name.slice('@auth-sidecars/'.length)), seen);
  }
  return seen;
}

describe.each(apps)('apps/%s/Dockerfile', (app) => {
  const file = join(repoRoot, 'apps', app, 'Dockerfile');
  const instructions = parseDockerfile(readFileSync(file, 'utf8'));
  const byStage = stages(instructions);
  const runtime = byStage.at(-1)!;

  it('has prune, build and runtime stages on Node 24', () => {
    expect(byStage.map((s) => s.name)).toEqual(['prune', 'build', 'runtime']);
    const nodeImage = instructions.find((i) => i.keyword === 'ARG' && i.args.startsWith('NODE_IMAGE='));
    expect(nodeImage?.args).toMatch(/^NODE_IMAGE=node:24[-.]/);
    expect(
      byStage[0]!.body.some(
        (i) => i.keyword === 'RUN' && i.args.includes(`prune @auth-sidecars/${app} --docker`),
      ),
    ).toBe(true);
  });

  it('runs as a non-root user with only production dependencies', () => {
    const user = runtime.body.filter((i) => i.keyword === 'USER').at(-1);
    expect(user).toBeDefined();
    expect(user!.args.split(':')[0]).not.toMatch(/^(root|0)$/);
    const build = byStage[1]!.body.map((i) => i.args).join('\n');
    expect(build).toContain('npm prune --omit=dev');
    expect(runtime.body.every((i) => i.keyword !== 'RUN')).toBe(true); // nothing writes to the runtime fs
  });

  it('starts the entry point that the app build produces, with a health check', () => {
    const cmd = runtime.body.filter((i) => i.keyword === 'CMD').at(-1);
    expect(cmd?.args).toBe(`["node", "apps/${app}/dist/main.js"]`);
    const tsconfig = JSON.parse(readFileSync(join(repoRoot, 'apps', app, 'tsconfig.build.json'), 'utf8'));
    expect(tsconfig.compilerOptions).toMatchObject({ rootDir: 'src', outDir: 'dist' });
    expect(existsSync(join(repoRoot, 'apps', app, 'src/main.ts'))).toBe(true);
    expect(runtime.body.some((i) => i.keyword === 'HEALTHCHECK' && i.args.includes('/livez'))).toBe(true);
  });

  it('gets a pruned workspace that holds the app and every package it depends on', () => {
    const out = mkdtempSync(join(tmpdir(), `prune-${app}-`));
    try {
      execFileSync(
        join(repoRoot, 'node_modules/.bin/turbo'),
        ['prune', `@auth-sidecars/${app}`, '--docker', '--out-dir', out],
        {
          cwd: repoRoot,
          stdio: 'pipe',
        },
      );
      expect(existsSync(join(out, 'json/package-lock.json'))).toBe(true);
      expect(existsSync(join(out, `json/apps/${app}/package.json`))).toBe(true);
      expect(existsSync(join(out, `full/apps/${app}/src/main.ts`))).toBe(true);
      for (const dep of workspaceDeps(join(repoRoot, 'apps', app))) {
        const folder = dep.slice('@auth-sidecars/'.length);
        expect(existsSync(join(out, `json/packages/${folder}/package.json`))).toBe(true);
        expect(existsSync(join(out, `full/packages/${folder}/src`))).toBe(true);
      }
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });
});

describe('.dockerignore', () => {
  it('keeps local installs, build output and tools out of the build context', () => {
    const lines = readFileSync(join(repoRoot, '.dockerignore'), 'utf8').split('\n');
    for (const entry of ['**/node_modules', '**/dist', '.git', '.tools']) expect(lines).toContain(entry);
  });
});
