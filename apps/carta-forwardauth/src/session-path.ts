// Extracts a CARTA session id from a request URI, strictly: only the three known URL shapes, only
// canonical paths (no dot segments, doubled or encoded slashes, backslashes, double encoding), and
// only ids matching ^[a-z0-9]{1,63}$. Anything odd is a spoofing attempt and denies without lookup.
import { CARTA_PATH_PREFIX, LEGACY_SHAPE_SEGMENTS, SESSION_ID_PATTERN } from './constants.js';

export type InvalidReason = 'invalid_session_id' | 'non_canonical_path' | 'uri_too_long';

export type PathResult =
  { kind: 'none' } | { kind: 'session'; id: string } | { kind: 'invalid'; reason: InvalidReason };

const NONE: PathResult = Object.freeze({ kind: 'none' });
// Control characters, space, backslash: never in a canonical path.
// eslint-disable-next-line no-control-regex
const FORBIDDEN_CHARS = /[\u0000-\u0020\u007f\\]/;
const DOT_SEGMENT = /(^|\/)\.{1,2}(\/|$)/;
const PREFIX_LOWER = CARTA_PATH_PREFIX.toLowerCase();
const BARE_PREFIX = CARTA_PATH_PREFIX.slice(0, -1);

function invalid(reason: InvalidReason): PathResult {
  return { kind: 'invalid', reason };
}

/** `path` is the request target as sent (path plus optional query), e.g. `/session/carta/abc/?x=1`. */
export function sessionFromPath(target: string, maxLength: number): PathResult {
  if (target.length > maxLength) return invalid('uri_too_long');
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
  if (!path.startsWith(CARTA_PATH_PREFIX)) {
    // A case variant of the prefix could still route to a session somewhere; never guess.
    const lower = path.toLowerCase();
    if (lower.startsWith(PREFIX_LOWER) || lower === BARE_PREFIX)
      return path === BARE_PREFIX ? invalid('invalid_session_id') : invalid('non_canonical_path');
    return NONE;
  }
  const segments = path.slice(CARTA_PATH_PREFIX.length).split('/');
  let id = segments[0]!;
  if (LEGACY_SHAPE_SEGMENTS.has(id)) id = segments[1] ?? '';
  return SESSION_ID_PATTERN.test(id) && !LEGACY_SHAPE_SEGMENTS.has(id)
    ? { kind: 'session', id }
    : invalid('invalid_session_id');
}

const ABSOLUTE_URL = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/[^/?#]*/;

/** Referer: an absolute URL (or, leniently, an absolute path). Its path goes through the same rules. */
export function sessionFromReferer(referer: string, maxLength: number): PathResult {
  if (referer.length > maxLength) return invalid('uri_too_long');
  const origin = ABSOLUTE_URL.exec(referer);
  if (origin) {
    const rest = referer.slice(origin[0].length);
    return rest === '' ? NONE : rest.startsWith('/') ? sessionFromPath(rest, maxLength) : NONE;
  }
  return referer.startsWith('/') ? sessionFromPath(referer, maxLength) : NONE;
}
