#!/usr/bin/env node
// Writes the values table of helm/auth-sidecars/README.md from values.yaml and its `# --` comments
// (helm-docs' convention), so the documentation cannot drift from the file.
//   node helm/values-table.mjs            rewrite the table between the README's markers
//   node helm/values-table.mjs --check    exit 1 when the README's table differs from values.yaml
//   --chart <dir>                         another chart directory (the tests use a copy)
// A key with a `# --` comment is a row; a key without one is descended into when it holds a map,
// and is an error when it is a leaf: every value a user can set is documented.
import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { format, resolveConfig } from 'prettier';
import { parse } from 'yaml';

export const START = '<!-- values-table:start -->';
export const END = '<!-- values-table:end -->';

const KEY_LINE = /^( *)([A-Za-z_][A-Za-z0-9_]*):(?: (.*))?$/;

/** Rows of the table: { path, description } in file order, from the comments of values.yaml. */
export function documentedKeys(text) {
  const rows = [];
  const stack = []; // { indent, key }
  let description = null;
  for (const [index, line] of text.split('\n').entries()) {
    const trimmed = line.trim();
    if (trimmed === '') {
      description = null;
      continue;
    }
    if (trimmed.startsWith('#')) {
      const body = trimmed.replace(/^#\s?/, '');
      if (body.startsWith('-- ')) description = [body.slice(3)];
      else if (description && body !== '') description.push(body);
      else description = null;
      continue;
    }
    const match = KEY_LINE.exec(line);
    if (!match) {
      // Only the block style of this file is read; a list item or continuation is part of a value.
      if (/^ *- /.test(line) || stack.length > 0) continue;
      throw new Error(`values.yaml line ${index + 1}: cannot read "${line}"`);
    }
    const indent = match[1].length;
    while (stack.length > 0 && stack.at(-1).indent >= indent) stack.pop();
    const path = [...stack.map((s) => s.key), match[2]].join('.');
    if (description) rows.push({ path, description: description.join(' ') });
    stack.push({ indent, key: match[2] });
    description = null;
  }
  return rows;
}

function valueAt(values, path) {
  return path.split('.').reduce((v, k) => (v === undefined || v === null ? undefined : v[k]), values);
}

const isMap = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);

/** Leaves (and empty maps) that no documented key covers. */
export function undocumented(values, rows) {
  const documented = new Set(rows.map((r) => r.path));
  const missing = [];
  const walk = (value, path) => {
    if (path && documented.has(path)) return;
    if (isMap(value) && Object.keys(value).length > 0) {
      for (const [k, v] of Object.entries(value)) walk(v, path ? `${path}.${k}` : k);
    } else missing.push(path);
  };
  walk(values, '');
  return missing;
}

function typeOf(value) {
  if (Array.isArray(value)) return 'list';
  if (value === null) return 'null';
  if (typeof value === 'number') return Number.isInteger(value) ? 'int' : 'float';
  if (typeof value === 'object') return 'object';
  return typeof value === 'boolean' ? 'bool' : 'string';
}

const cell = (text) => text.replace(/\|/g, '\\|');

export function tableMarkdown(valuesText) {
  const values = parse(valuesText);
  const rows = documentedKeys(valuesText);
  const missing = undocumented(values, rows);
  if (missing.length > 0) {
    throw new Error(`values.yaml: no "# --" comment for ${missing.join(', ')}`);
  }
  const lines = ['| Key | Type | Default | Description |', '| --- | --- | --- | --- |'];
  for (const { path, description } of rows) {
    const value = valueAt(values, path);
    lines.push(
      `| \`${path}\` | ${typeOf(value)} | \`${cell(JSON.stringify(value))}\` | ${cell(description)} |`,
    );
  }
  return lines.join('\n');
}

/** The README with its table regenerated, the table's columns aligned by prettier. */
export async function readmeWithTable(chartDir) {
  const readmePath = join(chartDir, 'README.md');
  const readme = readFileSync(readmePath, 'utf8');
  const start = readme.indexOf(START);
  const end = readme.indexOf(END);
  if (start < 0 || end < start) throw new Error(`${readmePath}: no ${START} ... ${END} markers`);
  // Only the table goes through prettier (aligned columns); the rest of the README is left as written.
  const config = (await resolveConfig(readmePath)) ?? {};
  const table = await format(tableMarkdown(readFileSync(join(chartDir, 'values.yaml'), 'utf8')), {
    ...config,
    parser: 'markdown',
  });
  const expected = `${readme.slice(0, start + START.length)}\n\n${table}\n${readme.slice(end)}`;
  return { readmePath, current: readme, expected };
}

async function main(argv) {
  const chartArg = argv.indexOf('--chart');
  const chartDir =
    chartArg >= 0 ? resolve(argv[chartArg + 1]) : resolve(import.meta.dirname, 'auth-sidecars');
  const { readmePath, current, expected } = await readmeWithTable(chartDir);
  if (argv.includes('--check')) {
    if (current !== expected) {
      console.error(`${readmePath}: the values table differs from values.yaml; run node helm/values-table.mjs`);
      return 1;
    }
    console.log(`${readmePath}: the values table matches values.yaml`);
    return 0;
  }
  if (current !== expected) writeFileSync(readmePath, expected);
  console.log(`${readmePath}: ${current === expected ? 'unchanged' : 'table written'}`);
  return 0;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (error) => {
      console.error(error instanceof Error ? error.message : error);
      process.exit(2);
    },
  );
}
