// Fast checks of the Dockerfiles, before tests/images builds and boots them with podman: they are
// exactly what scripts/gen-dockerfiles.mjs writes; the stage layout, turbo pinned by the lockfile,
// tsconfig.base.json in the build, a non-root runtime with a health check; what `turbo prune` hands
// the build; and what scripts/runtime-tree.mjs puts in the runtime stage (the app, its runtime
// workspaces and production dependencies, nothing test-only), which must run on its own.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from './support/repo.js';

const apps = readdirSync(join(repoRoot, 'apps'));
const TEST_ONLY = ['@auth-sidecars/dev-entra', '@auth-sidecars/testkit'];
/** What the images are built for: the five apps and testkit (the dev tooling image). */
const IMAGE_WORKSPACES = [...apps.sort().map((a) => `@auth-sidecars/${a}`), '@auth-sidecars/testkit'];

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

interface PackageJson {
  name: string;
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
}

const readPkg = (dir: string) => JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as PackageJson;

/** A workspace's `files` (npm pack's rule: dist when it has none). */
const publishedFiles = (dir: string) =>
  (JSON.parse(readFileSync(join(repoRoot, dir, 'package.json'), 'utf8')) as { files?: string[] }).files ?? [
    'dist',
  ];

/** Workspace packages a workspace needs at run time (its `dependencies`, transitively), by name. */
function runtimeWorkspaceDeps(dir: string, seen = new Set<string>()): Set<string> {
  for (const name of Object.keys(readPkg(dir).dependencies ?? {})) {
    if (!name.startsWith('@auth-sidecars/') || seen.has(name)) continue;
    seen.add(name);
    runtimeWorkspaceDeps(join(repoRoot, 'packages', name.slice('@auth-sidecars/'.length)), seen);
  }
  return seen;
}

/** Runs an ES module snippet on the Node the tests run on; returns its stdout parsed as JSON. */
function nodeJson<T>(code: string): T {
  return JSON.parse(
    execFileSync(process.execPath, ['--input-type=module', '-e', code], { cwd: repoRoot, encoding: 'utf8' }),
  ) as T;
}

const script = (name: string) => JSON.stringify(join(repoRoot, 'scripts', name));
const turboVersion = (
  JSON.parse(readFileSync(join(repoRoot, 'package-lock.json'), 'utf8')) as {
    packages: Record<string, { version: string }>;
  }
).packages['node_modules/turbo']!.version;

describe('scripts/gen-dockerfiles.mjs', () => {
  it('the committed Dockerfiles (five apps and dev/Dockerfile) are exactly its output', () => {
    const generated = nodeJson<Array<[string, string]>>(
      `import { dockerfiles } from ${script('gen-dockerfiles.mjs')};
       console.log(JSON.stringify([...dockerfiles()]));`,
    );
    expect(generated.map(([file]) => file).sort()).toEqual(
      [...apps.map((a) => `apps/${a}/Dockerfile`), 'dev/Dockerfile'].sort(),
    );
    for (const [file, text] of generated) {
      expect({ file, text: readFileSync(join(repoRoot, file), 'utf8') }).toEqual({ file, text });
    }
  });
});

describe.each([...apps.map((app) => ({ app, dir: `apps/${app}` })), { app: 'dev', dir: 'packages/testkit' }])(
  '$app Dockerfile',
  ({ app, dir }) => {
    const file = app === 'dev' ? join(repoRoot, 'dev/Dockerfile') : join(repoRoot, 'apps', app, 'Dockerfile');
    const instructions = parseDockerfile(readFileSync(file, 'utf8'));
    const byStage = stages(instructions);
    const runtime = byStage.at(-1)!;
    const workspace = readPkg(join(repoRoot, dir)).name;

    it('has prune, build and runtime stages on Node 24, with turbo at the version the lockfile pins', () => {
      expect(byStage.map((s) => s.name)).toEqual(['prune', 'build', 'runtime']);
      const nodeImage = instructions.find((i) => i.keyword === 'ARG' && i.args.startsWith('NODE_IMAGE='));
      expect(nodeImage?.args).toBe('NODE_IMAGE=node:24-bookworm-slim');
      const prune = byStage[0]!.body.filter((i) => i.keyword === 'RUN').map((i) => i.args);
      expect(prune).toHaveLength(1);
      // Every image prunes for all image workspaces (one shared npm ci layer), its own among them.
      expect(prune[0]).toContain(`prune ${IMAGE_WORKSPACES.join(' ')} --docker`);
      expect(IMAGE_WORKSPACES).toContain(workspace);
      expect(prune[0]).not.toMatch(/turbo@\d/);
      // The version comes from package-lock.json at build time: evaluate that expression here.
      const expr = /"turbo@\$\(node -p "(.+?)"\)"/.exec(prune[0]!)?.[1];
      expect(expr).toBeDefined();
      expect(execFileSync(process.execPath, ['-p', expr!], { cwd: repoRoot, encoding: 'utf8' }).trim()).toBe(
        turboVersion,
      );
    });

    it('builds with tsconfig.base.json present (every tsconfig extends it) and writes the runtime tree', () => {
      const build = byStage[1]!.body;
      const copies = build.filter((i) => i.keyword === 'COPY').map((i) => i.args);
      expect(copies).toContainEqual(expect.stringMatching(/^tsconfig\.base\.json\b/));
      const tsconfig = JSON.parse(readFileSync(join(repoRoot, dir, 'tsconfig.build.json'), 'utf8')) as {
        extends: string;
        compilerOptions: Record<string, string>;
      };
      expect(tsconfig.extends).toBe('../../tsconfig.base.json');
      expect(tsconfig.compilerOptions).toMatchObject({ rootDir: 'src', outDir: 'dist' });
      const last = build.at(-1)!;
      expect(last.keyword).toBe('RUN');
      expect(last.args).toContain(`npx turbo run build --filter=${workspace} `);
      // App images run the bundle (issue 16); the dev image runs the copied tree.
      expect(last.args).toMatch(
        new RegExp(`&& node runtime-tree.mjs${app === 'dev' ? '' : ' --bundle'} ${dir} /out$`),
      );
    });

    it('runs as the non-root user from the runtime tree alone', () => {
      const user = runtime.body.filter((i) => i.keyword === 'USER').at(-1);
      expect(user?.args).toBe('10001:10001');
      const copies = runtime.body.filter((i) => i.keyword === 'COPY').map((i) => i.args);
      expect(copies).toEqual(['--from=build /out/ ./']);
      const runs = runtime.body.filter((i) => i.keyword === 'RUN').map((i) => i.args);
      // Only the dev image prepares its shared-volume mount point.
      expect(runs).toEqual(app === 'dev' ? ['mkdir -p /demo && chown 10001:10001 /demo'] : []);
    });

    if (app !== 'dev') {
      it('starts the bundled entry point with the footprint flags, with a health check on /livez', () => {
        const cmd = runtime.body.filter((i) => i.keyword === 'CMD').at(-1);
        const argv = JSON.parse(cmd?.args ?? '[]') as string[];
        expect(argv[0]).toBe('node');
        expect(argv.at(-1)).toBe(`apps/${app}/bundle/main.js`);
        // Source maps ship beside the bundle; the logger maps a stack when it writes one (the flag costs ~6 MB).
        expect(argv).not.toContain('--enable-source-maps');
        expect(argv).toEqual(expect.arrayContaining(['--max-semi-space-size=1', '--liftoff-only']));
        expect(argv.slice(1, -1).every((a) => a.startsWith('--'))).toBe(true);
        expect(existsSync(join(repoRoot, 'apps', app, 'src/main.ts'))).toBe(true);
        expect(runtime.body.some((i) => i.keyword === 'HEALTHCHECK' && i.args.includes('/livez'))).toBe(true);
        const env = runtime.body.find((i) => i.keyword === 'ENV')?.args ?? '';
        expect(env.split(' ')).toEqual(
          expect.arrayContaining([
            'MALLOC_ARENA_MAX=1',
            'MALLOC_MMAP_THRESHOLD_=32768',
            'MALLOC_TRIM_THRESHOLD_=0',
          ]),
        );
        const port = /(?:^| )PORT=(\d+)/.exec(env)?.[1];
        // carta-forwardauth's probes have a port of their own (every path on PORT is a decision).
        const probePort = /PROBE_PORT=(\d+)/.exec(env)?.[1];
        expect(runtime.body.find((i) => i.keyword === 'EXPOSE')?.args).toBe(
          [port, probePort].filter(Boolean).join(' '),
        );
        expect(port).toBe(app === 'carta-forwardauth' ? '8000' : '8080');
        expect(probePort).toBe(app === 'carta-forwardauth' ? '8001' : undefined);
      });
    }
  },
);

describe('turbo prune for every image workspace (the shared prune stage)', () => {
  it('holds every app, testkit and each package they depend on, and leaves tsconfig.base.json out', () => {
    const out = mkdtempSync(join(tmpdir(), 'prune-'));
    try {
      execFileSync(
        join(repoRoot, 'node_modules/.bin/turbo'),
        ['prune', ...IMAGE_WORKSPACES, '--docker', '--out-dir', out],
        {
          cwd: repoRoot,
          stdio: 'pipe',
        },
      );
      expect(existsSync(join(out, 'json/package-lock.json'))).toBe(true);
      for (const dir of [...apps.map((a) => `apps/${a}`), 'packages/testkit']) {
        expect(existsSync(join(out, `json/${dir}/package.json`))).toBe(true);
        expect(existsSync(join(out, `full/${dir}/src`))).toBe(true);
        for (const dep of runtimeWorkspaceDeps(join(repoRoot, dir))) {
          const folder = dep.slice('@auth-sidecars/'.length);
          expect(existsSync(join(out, `json/packages/${folder}/package.json`))).toBe(true);
          expect(existsSync(join(out, `full/packages/${folder}/src`))).toBe(true);
        }
      }
      // turbo prune leaves it out: hence the explicit COPY in the build stage.
      expect(existsSync(join(out, 'full/tsconfig.base.json'))).toBe(false);
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });
});

describe.each(apps)('scripts/runtime-tree.mjs apps/%s', (app) => {
  const dir = `apps/${app}`;
  const pkg = readPkg(join(repoRoot, dir));

  it('takes the app, its runtime workspaces and production dependencies only', () => {
    const tree = nodeJson<{ copy: string[]; links: Array<[string, string]> }>(
      `import { runtimeTree } from ${script('runtime-tree.mjs')};
       const { copy, links } = runtimeTree('.', ${JSON.stringify(dir)});
       console.log(JSON.stringify({ copy, links: [...links] }));`,
    );
    const workspaces = [...runtimeWorkspaceDeps(join(repoRoot, dir))];
    expect(tree.links.sort()).toEqual(
      workspaces
        .map((n) => [`node_modules/${n}`, `../../packages/${n.slice('@auth-sidecars/'.length)}`])
        .sort(),
    );
    // Published files only: package.json and `files`, else dist (npm pack's rule), no sources or tests.
    const own = tree.copy.filter((p) => !p.startsWith('node_modules/') && !p.includes('/node_modules/'));
    expect(own.sort()).toEqual(
      [dir, ...workspaces.map((n) => `packages/${n.slice('@auth-sidecars/'.length)}`)]
        .flatMap((d) => [...publishedFiles(d).map((f) => `${d}/${f}`), `${d}/package.json`])
        .sort(),
    );
    const copied = new Set(tree.copy.map((p) => p.replace(/^.*node_modules\//, '')));
    for (const testOnly of TEST_ONLY) expect(copied.has(testOnly)).toBe(false);
    // The app's devDependencies that nothing at run time needs stay out.
    for (const dev of [
      '@types/express',
      'typescript',
      'jest',
      'ts-jest',
      'turbo',
      'openai',
      'playwright-core',
    ]) {
      if (pkg.dependencies?.[dev]) continue;
      expect({ dev, copied: copied.has(dev) }).toEqual({ dev, copied: false });
    }
    for (const dep of Object.keys(pkg.dependencies ?? {}).filter((d) => !d.startsWith('@auth-sidecars/')))
      expect({ dep, copied: copied.has(dep) }).toEqual({ dep, copied: true });
  });
});

describe('scripts/runtime-tree.mjs writes a tree that runs on its own', () => {
  // One app is enough here (copying is slow on a busy machine); tests/images runs all five images.
  const dir = 'apps/aks-broker';
  it(`${dir}: its routes load from the copy alone, with workspace links kept relative`, () => {
    const out = join(mkdtempSync(join(tmpdir(), 'runtime-tree-')), 'app');
    try {
      execFileSync(process.execPath, [join(repoRoot, 'scripts/runtime-tree.mjs'), dir, out], {
        cwd: repoRoot,
        stdio: 'pipe',
      });
      expect(readdirSync(join(out, 'node_modules/@auth-sidecars'))).toEqual(['service-kit']);
      // Nested dependencies (a version other than the hoisted one) come along; sources do not.
      expect(readdirSync(join(out, dir)).sort()).toEqual(
        [
          ...publishedFiles(dir),
          'package.json',
          ...(existsSync(join(repoRoot, dir, 'node_modules')) ? ['node_modules'] : []),
        ].sort(),
      );
      // app.js builds the routes (main.js would start the service); nothing resolves outside `out`.
      const loaded = execFileSync(
        process.execPath,
        [
          '--input-type=module',
          '-e',
          `const m = await import(${JSON.stringify(join(out, dir, 'dist/app.js'))}); console.log(Object.keys(m).join(','));`,
        ],
        { cwd: out, encoding: 'utf8', env: { PATH: process.env.PATH } },
      );
      expect(loaded.trim().length).toBeGreaterThan(0);
    } finally {
      rmSync(join(out, '..'), { recursive: true, force: true });
    }
  }, 180_000);
});

describe('scripts/runtime-tree.mjs --bundle writes a tree that runs on its own', () => {
  // One app here; tests/images builds and boots every image, which run their bundles.
  const dir = 'apps/openai-proxy';
  it(`${dir}: the bundle and its chunks, source maps of the repo's own TypeScript, no node_modules`, () => {
    const out = join(mkdtempSync(join(tmpdir(), 'bundled-tree-')), 'app');
    try {
      execFileSync(process.execPath, [join(repoRoot, 'scripts/runtime-tree.mjs'), '--bundle', dir, out], {
        cwd: repoRoot,
        stdio: 'pipe',
      });
      expect(readdirSync(out)).toEqual(['apps']);
      expect(readdirSync(join(out, dir)).sort()).toEqual(['bundle', 'package.json']);
      const map = JSON.parse(readFileSync(join(out, dir, 'bundle/main.js.map'), 'utf8')) as {
        sources: string[];
      };
      // Relative to the bundle, in the repo's layout: /app/packages/... in the image.
      expect(map.sources).toContain('../../../packages/proxy-kit/src/forwarder.ts');
      expect(map.sources.filter((s) => s.includes('node_modules'))).toEqual([]);
      // Only the configured credential kind is loaded: each kind is a chunk of its own.
      const chunks = readdirSync(join(out, dir, 'bundle'));
      expect(chunks.some((c) => /^certificate-credential-.*\.js$/.test(c))).toBe(true);
      expect(readFileSync(join(out, dir, 'bundle/main.js'), 'utf8')).not.toContain('DefaultAzureCredential');
      // The bundle loads from the copy alone (a configuration error: it ran as far as reading its config).
      const run = spawnSync(process.execPath, [join(out, dir, 'bundle/main.js')], {
        cwd: out,
        encoding: 'utf8',
        env: { PATH: process.env.PATH },
      });
      expect({ status: run.status, stderr: run.stderr }).toMatchObject({
        status: 78,
        stderr: expect.stringContaining('API_BASE_URL') as unknown as string,
      });
    } finally {
      rmSync(join(out, '..'), { recursive: true, force: true });
    }
  }, 180_000);

  it("apps/carta-forwardauth: none of client-node's generated API and model classes", () => {
    const out = join(mkdtempSync(join(tmpdir(), 'bundled-tree-')), 'app');
    const app = 'apps/carta-forwardauth';
    try {
      execFileSync(process.execPath, [join(repoRoot, 'scripts/runtime-tree.mjs'), '--bundle', app, out], {
        cwd: repoRoot,
        stdio: 'pipe',
      });
      const bundle = readFileSync(join(out, app, 'bundle/main.js'), 'utf8');
      // Names kept by the minifier (keepNames) and the models' own field.
      for (const generated of ['CoreV1Api', 'V1PodSpec', 'ObjectSerializer', 'attributeTypeMap'])
        expect({ generated, found: bundle.includes(generated) }).toEqual({ generated, found: false });
      // What the informer does use is there.
      for (const used of ['KubeConfig', 'ListWatch', 'Watch', 'RequestContext'])
        expect({ used, found: bundle.includes(used) }).toEqual({ used, found: true });
    } finally {
      rmSync(join(out, '..'), { recursive: true, force: true });
    }
  }, 180_000);
});

describe('.dockerignore', () => {
  it('keeps local installs, build output, tools and generated state out of the build context', () => {
    const lines = readFileSync(join(repoRoot, '.dockerignore'), 'utf8').split('\n');
    for (const entry of ['**/node_modules', '**/dist', '.git', '.tools', '.tmp'])
      expect(lines).toContain(entry);
  });
});
