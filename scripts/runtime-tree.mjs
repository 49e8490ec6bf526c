#!/usr/bin/env node
// Copies what one workspace runs into a fresh directory, for an image's runtime stage: the
// workspace's package.json and dist, each workspace package it depends on at run time (package.json
// and its `files`), and every production dependency those reach, resolved from where each package
// sits as Node resolves it. The repo's layout is kept (node_modules links to workspaces included),
// so the entry point's path is the same as in the repo. Test-only workspaces (dev-entra, testkit),
// devDependencies and sources never get in.
//   node scripts/runtime-tree.mjs apps/token-server /out      (from the repo root, after the build)
import {
  cpSync,
  existsSync,
  lstatSync,
  mkdirSync,
  readFileSync,
  readlinkSync,
  realpathSync,
  symlinkSync,
} from 'node:fs';
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

if (process.argv[1] && realpathSync(process.argv[1]) === realpathSync(new URL(import.meta.url).pathname)) {
  const [workspace, out] = process.argv.slice(2);
  if (!workspace || !out) {
    console.error('usage: node scripts/runtime-tree.mjs <workspace dir> <out dir>');
    process.exit(64);
  }
  const { copy, links } = writeRuntimeTree(process.cwd(), workspace, resolve(out));
  console.log(`runtime tree of ${workspace}: ${copy.length} paths, ${links.size} workspace links -> ${out}`);
}
