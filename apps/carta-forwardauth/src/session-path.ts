// Extracts a CARTA session id from a request URI, strictly: only the three known URL shapes, at the
// root or under a configured ingress prefix, only canonical paths (no dot segments, doubled or
// encoded slashes, backslashes, double encoding), and only ids matching ^[a-z0-9]{1,63}$. Anything
// odd is a spoofing attempt and denies without lookup.
import { CARTA_PATH_PREFIX, LEGACY_SHAPE_SEGMENTS, SESSION_ID_PATTERN } from './constants.js';

export type InvalidReason =
  | 'invalid_session_id'
  | 'non_canonical_path'
  | 'uri_too_long'
  /** `/session/carta/` after a path prefix that SESSION_PATH_PREFIXES does not list. */
  | 'unlisted_path_prefix';

export type PathResult =
  /** `path`: the decoded, canonical path, for the Referer fallback's asset prefixes. */
  | { kind: 'none'; path: string }
  | { kind: 'session'; id: string }
  | { kind: 'invalid'; reason: InvalidReason };

/** Where a session may be named: `/session/carta/` at the root and under each ingress prefix. */
interface Shape {
  prefix: string;
  lower: string;
  bare: string;
  bareLower: string;
}

export interface PathRules {
  maxLength: number;
  shapes: readonly Shape[];
}

/** `sessionPrefixes`: `/` for the root, `/skaha` for `/skaha/session/carta/<id>/...`. */
export function pathRules(maxLength: number, sessionPrefixes: readonly string[] = ['/']): PathRules {
  const shapes = sessionPrefixes.map((p): Shape => {
    const prefix = `${p === '/' ? '' : p}${CARTA_PATH_PREFIX}`;
    const bare = prefix.slice(0, -1);
    return { prefix, lower: prefix.toLowerCase(), bare, bareLower: bare.toLowerCase() };
  });
  return Object.freeze({ maxLength, shapes: Object.freeze(shapes) });
}

// Control characters, space, backslash: never in a canonical path.
// eslint-disable-next-line no-control-regex
const FORBIDDEN_CHARS = /[\u0000-\u0020\u007f\\]/;
const DOT_SEGMENT = /(^|\/)\.{1,2}(\/|$)/;
const ANY_PLACE = CARTA_PATH_PREFIX.toLowerCase();
const ANY_PLACE_BARE = ANY_PLACE.slice(0, -1);
const NO_PATH: PathResult = Object.freeze({ kind: 'none', path: '' });

function invalid(reason: InvalidReason): PathResult {
  return { kind: 'invalid', reason };
}

/** `target` is the request target as sent (path plus optional query), e.g. `/session/carta/abc/?x=1`. */
export function sessionFromPath(target: string, rules: PathRules): PathResult {
  if (target.length > rules.maxLength) return invalid('uri_too_long');
  const end = target.search(/[?#]/);
  const raw = end === -1 ? target : target.slice(0, end);
  if (FORBIDDEN_CHARS.test(raw)) return invalid('non_canonical_path');
  let path = raw;
  if (raw.includes('%')) {
    try {
      path = decodeURIComponent(raw);
    } catch {
      return invalid('non_canonical_path');
    }
    // Still encoded after one decode (double encoding), or an encoded slash/control character.
    if (
      path.includes('%') ||
      FORBIDDEN_CHARS.test(path) ||
      path.split('/').length !== raw.split('/').length
    ) {
      return invalid('non_canonical_path');
    }
  }
  if (path.includes('//') || DOT_SEGMENT.test(path)) return invalid('non_canonical_path');
  for (const shape of rules.shapes) {
    if (path.startsWith(shape.prefix)) return sessionAfter(path, shape.prefix.length);
  }
  // A case variant of a session prefix could still route to a session somewhere; never guess.
  const lower = path.toLowerCase();
  for (const shape of rules.shapes) {
    if (lower.startsWith(shape.lower) || lower === shape.bareLower)
      return path === shape.bare ? invalid('invalid_session_id') : invalid('non_canonical_path');
  }
  // The seed matched `/session/carta/<id>` anywhere in the URI; here only where configured, so that
  // `/admin/session/carta/<id>/` is not taken for a session, and the reason says what to configure.
  if (lower.includes(ANY_PLACE) || lower.endsWith(ANY_PLACE_BARE)) return invalid('unlisted_path_prefix');
  return { kind: 'none', path };
}

function sessionAfter(path: string, start: number): PathResult {
  const segments = path.slice(start).split('/');
  let id = segments[0]!;
  if (LEGACY_SHAPE_SEGMENTS.has(id)) id = segments[1] ?? '';
  return SESSION_ID_PATTERN.test(id) && !LEGACY_SHAPE_SEGMENTS.has(id)
    ? { kind: 'session', id }
    : invalid('invalid_session_id');
}

// Browsers send an absolute http(s) URL; anything else (a bare path, javascript:, data:...) was
// written by hand and names nothing.
const HTTP_ORIGIN = /^https?:\/\/[^/?#]*/i;

/** Referer: the path of an absolute http(s) URL, under the same rules as a URI. */
export function sessionFromReferer(referer: string, rules: PathRules): PathResult {
  if (referer.length > rules.maxLength) return invalid('uri_too_long');
  const origin = HTTP_ORIGIN.exec(referer);
  if (!origin) return NO_PATH;
  const rest = referer.slice(origin[0].length);
  return rest.startsWith('/') ? sessionFromPath(rest, rules) : NO_PATH;
}

/** An asset prefix ending in `/` covers everything below it; otherwise the path itself and below. */
export function underPrefix(path: string, prefixes: readonly string[]): boolean {
  for (const p of prefixes) {
    if (p.endsWith('/') ? path.startsWith(p) : path === p || path.startsWith(`${p}/`)) return true;
  }
  return false;
}
