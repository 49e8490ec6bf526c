#!/usr/bin/env node
// Copies what one workspace runs into a fresh directory, for an image's runtime stage: the
// workspace's package.json and dist, each workspace package it depends on at run time (package.json
// and its `files`), and every production dependency those reach, resolved from where each package
// sits as Node resolves it. The repo's layout is kept (node_modules links to workspaces included),
// so the entry point's path is the same as in the repo. Test-only workspaces (dev-entra, testkit),
// devDependencies and sources never get in. With --bundle the app's entry point is bundled instead
// (esbuild: one ES module and its lazily imported chunks, minified, source maps to the TypeScript
// sources) and only the packages that cannot be bundled (UNBUNDLED) are copied: what an image
// runs, a fraction of the size and memory.
//   node scripts/runtime-tree.mjs [--bundle] apps/token-server /out   (from the repo root, after the build)
import {
  cpSync,
  existsSync,
  lstatSync,
  mkdirSync,
  readFileSync,
  readlinkSync,
  realpathSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, join, relative, resolve, sep } from 'node:path';

/**
 * The files one workspace needs at run time, as paths relative to `root`: `{ copy, links }`, where
 * `copy` maps a directory or file to copy whole and `links` are node_modules symlinks to recreate.
 */
export function runtimeTree(root, workspace) {
  root = realpathSync(root);
  const copy = new Set();
  const links = new Map();
  const seen = new Set();
  const queue = [realpathSync(resolve(root, workspace))];
  while (queue.length > 0) {
    const dir = queue.shift();
    if (seen.has(dir)) continue;
    seen.add(dir);
    const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
    const rel = relative(root, dir);
    if (rel.split(sep).includes('node_modules')) {
      // A registry package: all of it but its own node_modules (what it needs there is resolved below).
      copy.add(rel);
    } else {
      // A workspace: what it publishes (npm pack's rule: package.json and `files`, else dist).
      copy.add(join(rel, 'package.json'));
      for (const entry of pkg.files ?? ['dist']) {
        if (/[*?[{]/.test(entry))
          throw new Error(`${rel}/package.json: glob in "files" (${entry}) is not supported`);
        if (existsSync(join(dir, entry))) copy.add(join(rel, entry));
        else throw new Error(`${rel}/${entry} is missing: build the workspace first`);
      }
    }
    const required = Object.keys(pkg.dependencies ?? {});
    const optional = [
      ...Object.keys(pkg.optionalDependencies ?? {}),
      ...Object.keys(pkg.peerDependencies ?? {}),
    ];
    for (const [name, mustExist] of [...required.map((n) => [n, true]), ...optional.map((n) => [n, false])]) {
      const found = lookup(root, dir, name);
      if (!found) {
        if (mustExist) throw new Error(`${rel}: dependency ${name} is not installed (run npm ci)`);
        continue;
      }
      if (lstatSync(found).isSymbolicLink()) links.set(relative(root, found), readlinkSync(found));
      queue.push(realpathSync(found));
    }
  }
  return { copy: [...copy].sort(), links: new Map([...links].sort()) };
}

/** Where Node finds `name` from a package in `dir`: the nearest node_modules/<name> upwards, not above root. */
function lookup(root, dir, name) {
  for (let d = dir; ; d = dirname(d)) {
    const candidate = join(d, 'node_modules', name);
    if (existsSync(candidate)) return candidate;
    if (d === root || d === dirname(d)) return undefined;
  }
}

/** Copies the tree into `out` (which must not exist yet). */
export function writeRuntimeTree(root, workspace, out) {
  if (existsSync(out)) throw new Error(`${out} exists; give a fresh directory`);
  const { copy, links } = runtimeTree(root, workspace);
  for (const rel of copy) {
    cpSync(join(root, rel), join(out, rel), {
      recursive: true,
      verbatimSymlinks: true,
      // A registry package's own node_modules: its needed entries are in `copy` on their own.
      filter: (src) => !(src !== join(root, rel) && relative(join(root, rel), src) === 'node_modules'),
    });
  }
  for (const [rel, target] of links) {
    mkdirSync(dirname(join(out, rel)), { recursive: true });
    symlinkSync(target, join(out, rel));
  }
  return { copy, links };
}

/**
 * Packages the bundle leaves as imports, copied into the tree with their own dependencies: a
 * package that reads files beside its code at run time, or has a native addon. None today.
 */
export const UNBUNDLED = [];

/** Where an app's bundle goes in the tree, beside its package.json (its "type" applies). */
export const bundleDir = (workspace) => join(workspace, 'bundle');

/**
 * Imports narrowed to what the importer uses, where a package's index loads far more than that.
 * undici's index requires every feature it has (fetch, WebSocket, caches, mocks, SQLite, two
 * HTTP parsers as WebAssembly) at import; proxy-kit dispatches through a Pool and nothing else.
 * An import of anything else from these importers fails the bundle ("No matching export").
 */
const NARROWED = [
  {
    module: 'undici',
    importer: /[\\/]packages[\\/]proxy-kit[\\/]dist[\\/]/,
    contents: "export { default as Pool } from 'undici/lib/dispatcher/pool.js';",
  },
  // @kubernetes/client-node's index loads every generated API and model class, and each model
  // module assigns static fields at its top level, which a bundler must keep: about 1 MB of code and
  // 700 classes built at start. carta-forwardauth lists with a plain request and keeps what its
  // informer needs; the two imports below are the only paths from those modules to the models.
  {
    module: '@kubernetes/client-node',
    importer: /[\\/]apps[\\/]carta-forwardauth[\\/]dist[\\/]/,
    contents: [
      "export { KubeConfig } from '@kubernetes/client-node/dist/config.js';",
      "export { ListWatch } from '@kubernetes/client-node/dist/cache.js';",
      "export { Watch } from '@kubernetes/client-node/dist/watch.js';",
      "export { HttpMethod, RequestContext } from '@kubernetes/client-node/dist/gen/http/http.js';",
    ].join('\n'),
  },
  // KubeConfig takes only these two from the generated index (for makeApiClient).
  {
    module: './gen/index.js',
    importer: /[\\/]@kubernetes[\\/]client-node[\\/]dist[\\/]config\.js$/,
    contents: [
      "export { createConfiguration } from './gen/configuration.js';",
      "export { ServerConfiguration } from './gen/servers.js';",
    ].join('\n'),
  },
  // ListWatch serializes its label and field selectors with the model serializer, as type
  // 'string', which it returns unchanged (as a primitive); any other use fails loudly.
  {
    module: './serializer.js',
    importer: /[\\/]@kubernetes[\\/]client-node[\\/]dist[\\/]cache\.js$/,
    contents: `export const ObjectSerializer = {
      serialize(data, type) {
        if (type !== 'string') throw new Error('bundle: ListWatch serialized a ' + type + ', not a string');
        return data;
      },
    };`,
  },
];

const narrowImports = {
  name: 'narrow-imports',
  setup(build) {
    for (const [i, n] of NARROWED.entries()) {
      const filter = new RegExp(`^${n.module.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}$`);
      build.onResolve({ filter }, (args) =>
        n.importer.test(args.importer)
          ? { path: n.module, namespace: `narrowed-${i}`, pluginData: args.resolveDir }
          : undefined,
      );
      build.onLoad({ filter: /.*/, namespace: `narrowed-${i}` }, (args) => ({
        contents: n.contents,
        resolveDir: args.pluginData,
        loader: 'js',
      }));
    }
  },
};

/**
 * Node 24's `http` module has WebSocket, CloseEvent and MessageEvent as lazy getters that load
 * Node's own copy of undici. An ES module import of `node:http` reads every export (the ESM facade
 * of a built-in copies them all), so it costs every process about 6 MB of RSS before any of them is
 * used; require() does not. The bundle's imports of http go through require() and esbuild's
 * CommonJS interop, whose getters read an export when it is used.
 */
const httpThroughRequire = {
  name: 'http-through-require',
  setup(build) {
    build.onResolve({ filter: /^(node:)?http$/ }, (args) =>
      args.kind === 'require-call' ? undefined : { path: 'node:http', namespace: 'http-through-require' },
    );
    build.onLoad({ filter: /.*/, namespace: 'http-through-require' }, () => ({
      contents: "module.exports = require('node:http');",
      loader: 'js',
    }));
  },
};

/**
 * Checks in dependencies that read a web global of Node's only to learn whether a value is one.
 * FormData, Headers, fetch and the like are lazy globals that load Node's own copy of undici (about
 * 6 MB of RSS) when read; Azure's HTTP pipeline reads FormData on every token request. The rewrite
 * asks the value's tag first. A dependency update that changes the text fails the bundle, so the
 * saving cannot go away unnoticed.
 */
const WEB_GLOBAL_CHECKS = [
  {
    file: /[\\/]@typespec[\\/]ts-http-runtime[\\/]dist[\\/]esm[\\/](formData|client[\\/]sendRequest)\.js$/,
    from: 'typeof FormData !== "undefined" && body instanceof FormData',
    to: 'Object.prototype.toString.call(body) === "[object FormData]" && body instanceof FormData',
  },
];

const webGlobalChecks = {
  name: 'web-global-checks',
  setup(build) {
    for (const check of WEB_GLOBAL_CHECKS) {
      build.onLoad({ filter: check.file }, async (args) => {
        const source = await readFile(args.path, 'utf8');
        if (!source.includes(check.from))
          throw new Error(
            `${args.path} no longer contains \`${check.from}\`: update WEB_GLOBAL_CHECKS in scripts/runtime-tree.mjs`,
          );
        return { contents: source.replaceAll(check.from, check.to), loader: 'js' };
      });
    }
  },
};

/**
 * Bundles `workspace`'s dist/main.js (built already) into `<out>/<workspace>/bundle`: an ES module
 * with code splitting, so what main.js imports lazily (a credential kind, express, a Redis client)
 * stays in chunks that load only when a configuration asks for them. Minified with names kept
 * (error classes and loggers read them); linked source maps of the repo's own code (filterSourceMap)
 * without sources, which map logged stack traces to the TypeScript files (service-kit's
 * source-mapped-stack.ts). Licence comments go to a file beside it (inline, one non-ASCII name
 * would make V8 hold the whole source as UTF-16, twice the memory).
 */
export async function bundleApp(root, workspace, out) {
  const { build } = await import('esbuild');
  const outdir = join(out, bundleDir(workspace));
  const result = await build({
    absWorkingDir: realpathSync(root),
    entryPoints: [join(realpathSync(root), workspace, 'dist', 'main.js')],
    outdir,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node24',
    splitting: true,
    // Chunks beside main.js: import.meta.dirname is then the same in every chunk (aks-broker finds
    // its public/ folder from it).
    chunkNames: '[name]-[hash]',
    minify: true,
    keepNames: true,
    sourcemap: 'linked',
    sourcesContent: false,
    legalComments: 'external',
    // CommonJS packages inside an ES module bundle still call require() for Node's built-ins.
    banner: {
      js: "import { createRequire as __bundleRequire } from 'node:module'; const require = __bundleRequire(import.meta.url);",
    },
    external: UNBUNDLED,
    plugins: [narrowImports, httpThroughRequire, webGlobalChecks],
    metafile: true,
    logLevel: 'warning',
  });
  // Sources as the tree lays them out (the repo's layout), not as seen from the build's out dir.
  root = realpathSync(root);
  for (const file of Object.keys(result.metafile.outputs).filter((f) => f.endsWith('.map'))) {
    const path = resolve(root, file);
    const map = filterSourceMap(JSON.parse(readFileSync(path, 'utf8')), (source) => {
      const repoPath = relative(root, resolve(dirname(path), source));
      return !repoPath.startsWith('..') && !repoPath.split(sep).includes('node_modules');
    });
    const mapDir = relative(out, dirname(path));
    map.sources = map.sources.map((source) =>
      relative(mapDir, relative(root, resolve(dirname(path), source)))
        .split(sep)
        .join('/'),
    );
    writeFileSync(path, JSON.stringify(map));
  }
  return result.metafile;
}

const VLQ_CHARS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const VLQ_VALUES = new Map([...VLQ_CHARS].map((c, i) => [c, i]));

function decodeVlq(text) {
  const values = [];
  let value = 0;
  let shift = 0;
  for (const c of text) {
    const digit = VLQ_VALUES.get(c);
    if (digit === undefined) throw new Error(`source map: bad VLQ character ${c}`);
    value += (digit & 31) << shift;
    if (digit & 32) shift += 5;
    else {
      values.push(value & 1 ? -(value >>> 1) : value >>> 1);
      value = 0;
      shift = 0;
    }
  }
  return values;
}

function encodeVlq(values) {
  let out = '';
  for (const v of values) {
    let rest = v < 0 ? (-v << 1) | 1 : v << 1;
    do {
      const digit = rest & 31;
      rest >>>= 5;
      out += VLQ_CHARS[rest > 0 ? digit | 32 : digit];
    } while (rest > 0);
  }
  return out;
}

/**
 * Keeps the mappings of a source map whose sources `keep` accepts (and only the sources and names
 * they use). Node parses a bundle's map whole at the first stack trace it formats: with every
 * dependency's mappings that is tens of MB of memory for the rest of the process's life, for
 * frames nobody reads; the app's own TypeScript is what a stack trace must name.
 */
export function filterSourceMap(map, keep) {
  const kept = map.sources.map((source) => keep(source));
  const sources = [];
  const sourceIndex = new Map();
  const names = [];
  const nameIndex = new Map();
  let src = 0;
  let srcLine = 0;
  let srcCol = 0;
  let name = 0;
  let out = { src: 0, srcLine: 0, srcCol: 0, name: 0 };
  const lines = map.mappings.split(';').map((line) => {
    let genCol = 0;
    let outGenCol = 0;
    const segments = [];
    for (const segment of line === '' ? [] : line.split(',')) {
      const v = decodeVlq(segment);
      genCol += v[0];
      if (v.length < 4) continue;
      src += v[1];
      srcLine += v[2];
      srcCol += v[3];
      if (v.length >= 5) name += v[4];
      if (!kept[src]) continue;
      if (!sourceIndex.has(src)) {
        sourceIndex.set(src, sources.length);
        sources.push(map.sources[src]);
      }
      const newSrc = sourceIndex.get(src);
      const fields = [genCol - outGenCol, newSrc - out.src, srcLine - out.srcLine, srcCol - out.srcCol];
      outGenCol = genCol;
      out = { ...out, src: newSrc, srcLine, srcCol };
      if (v.length >= 5) {
        if (!nameIndex.has(name)) {
          nameIndex.set(name, names.length);
          names.push(map.names[name]);
        }
        const newName = nameIndex.get(name);
        fields.push(newName - out.name);
        out.name = newName;
      }
      segments.push(encodeVlq(fields));
    }
    return segments.join(',');
  });
  return { version: 3, sources, names, mappings: lines.join(';') };
}

/**
 * The tree of a bundled app: the app's package.json and its other published files (not dist),
 * the bundle, and the runtime trees of the UNBUNDLED packages it imports.
 */
export async function writeBundledTree(root, workspace, out) {
  if (existsSync(out)) throw new Error(`${out} exists; give a fresh directory`);
  root = realpathSync(root);
  const dir = join(root, workspace);
  const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
  const metafile = await bundleApp(root, workspace, out);
  cpSync(join(dir, 'package.json'), join(out, workspace, 'package.json'));
  for (const entry of (pkg.files ?? []).filter((f) => f !== 'dist'))
    cpSync(join(dir, entry), join(out, workspace, entry), { recursive: true });
  const imported = new Set(
    Object.values(metafile.outputs).flatMap((o) => o.imports.filter((i) => i.external).map((i) => i.path)),
  );
  const copy = [];
  for (const name of UNBUNDLED.filter((n) => imported.has(n))) {
    const found = lookup(root, dir, name);
    if (!found) throw new Error(`${workspace}: ${name} is not installed (run npm ci)`);
    const tree = runtimeTree(root, relative(root, realpathSync(found)));
    for (const rel of tree.copy) cpSync(join(root, rel), join(out, rel), { recursive: true });
    copy.push(...tree.copy);
  }
  return { outputs: Object.keys(metafile.outputs).length, copy };
}

if (process.argv[1] && realpathSync(process.argv[1]) === realpathSync(new URL(import.meta.url).pathname)) {
  const args = process.argv.slice(2);
  const flags = new Set(args.filter((a) => a.startsWith('--')));
  const [workspace, out] = args.filter((a) => !a.startsWith('--'));
  if (!workspace || !out || [...flags].some((f) => f !== '--bundle')) {
    console.error('usage: node scripts/runtime-tree.mjs [--bundle] <workspace dir> <out dir>');
    process.exit(64);
  }
  if (flags.has('--bundle')) {
    const { outputs, copy } = await writeBundledTree(process.cwd(), workspace, resolve(out));
    console.log(`bundle of ${workspace}: ${outputs} files, ${copy.length} unbundled paths -> ${out}`);
  } else {
    const { copy, links } = writeRuntimeTree(process.cwd(), workspace, resolve(out));
    console.log(
      `runtime tree of ${workspace}: ${copy.length} paths, ${links.size} workspace links -> ${out}`,
    );
  }
}
