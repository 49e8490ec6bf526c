// Stack traces that name the TypeScript sources, without `node --enable-source-maps`. The flag makes
// Node scan every loaded module for its map at start, which costs about 6 MB of RSS in every pod
// (issue 16), while a stack is logged only for a bug. Here the map beside a frame's file (esbuild
// and tsc both write `<file>.js.map` next to it) is read the first time a frame of that file is
// logged, and its positions are rewritten as Node's flag would.
import { readFileSync } from 'node:fs';
import { SourceMap, type SourceMapPayload } from 'node:module';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** `file:///x/y.js:12:34` or `/x/y.js:12:34`, as V8 writes a frame's position. */
const FRAME_POSITION = /((?:file:\/\/)?\/[^\s()]+?\.[cm]?js):(\d+):(\d+)/g;

const FRAME_LINE = /^\s+at /;

/** Per generated file: its map, or null when it has none (or an unreadable one). */
const maps = new Map<string, SourceMap | null>();
/** Files are few (a bundle and its chunks); the bound keeps a pathological stack from growing it. */
const MAX_FILES = 64;

function mapOf(file: string): SourceMap | null {
  const known = maps.get(file);
  if (known !== undefined) return known;
  let map: SourceMap | null;
  try {
    map = new SourceMap(JSON.parse(readFileSync(`${file}.map`, 'utf8')) as SourceMapPayload);
  } catch {
    map = null; // no map, or a broken one: the frame stays as V8 wrote it
  }
  if (maps.size < MAX_FILES) maps.set(file, map);
  return map;
}

function originalPosition(location: string, line: number, column: number): string | undefined {
  const file = location.startsWith('file://') ? fileURLToPath(location) : location;
  const map = mapOf(file);
  if (map === null) return undefined;
  const origin = map.findOrigin(line, column);
  if (!('fileName' in origin)) return undefined;
  const source = origin.fileName.startsWith('file://')
    ? fileURLToPath(origin.fileName)
    : resolve(dirname(file), origin.fileName);
  return `${source}:${origin.lineNumber}:${origin.columnNumber}`;
}

/**
 * `stack` with every frame in a file that has a source map pointing at its original source. Only
 * frame lines (`    at ...`) are read: the message above them may hold text from a request.
 */
export function sourceMappedStack(stack: string): string {
  return stack
    .split('\n')
    .map((line) =>
      FRAME_LINE.test(line)
        ? line.replace(
            FRAME_POSITION,
            (whole, location: string, row: string, column: string) =>
              originalPosition(location, Number(row), Number(column)) ?? whole,
          )
        : line,
    )
    .join('\n');
}
