// `returnTo` after sign-in: only a page on this broker. Everything that a browser could resolve to
// another origin (`//evil`, `/\evil`, `https://evil`, encoded or control-character variants, and
// dot segments that normalise into one of those) is refused. The string checked last is the very
// string that goes into `Location`. The API (/k8s, /api) is no page to return to: a sign-in link
// would otherwise end in a GET that acts as the user (a pod's web app behind an allowed proxy).

const SAFE_PATH = /^\/(?![/\\])[A-Za-z0-9\-._~!$&'()*+,;=:@/%?#]*$/;
/** Kept short: it travels in the sign-in's cookie. */
const MAX_LENGTH = 1024;
const SENTINEL = 'https://return-to.invalid';
/** Express routes case-insensitively, and decodes: compare the same way. */
const API_PATH = /^\/(k8s|api)(\/|$)/i;

/** A page of ours (not the API) that a browser can only read as this origin, however often it (or a proxy) decodes it. */
function isSafePage(value: string): boolean {
  if (!SAFE_PATH.test(value)) return false; // also excludes backslashes, whitespace and control characters
  let decoded = value;
  for (let i = 0; i < 3; i++) {
    let next: string;
    try {
      next = decodeURIComponent(decoded);
    } catch {
      return false;
    }
    if (next === decoded) break;
    decoded = next;
  }
  return (
    decoded.startsWith('/') &&
    !decoded.startsWith('//') &&
    !/[\\\s\p{Cc}]/u.test(decoded) &&
    !API_PATH.test(decoded.split(/[?#]/, 1)[0]!)
  );
}

/** What a browser makes of `value` as a path on our origin, or undefined when it leaves it. */
function normalise(value: string): string | undefined {
  let resolved: URL;
  try {
    resolved = new URL(value, SENTINEL);
  } catch {
    return undefined;
  }
  if (resolved.origin !== SENTINEL) return undefined;
  return resolved.pathname + resolved.search + resolved.hash;
}

/** Returns the path to redirect to, or undefined when `value` is not a safe same-origin path. */
export function safeReturnTo(value: unknown): string | undefined {
  if (typeof value !== 'string' || value.length === 0 || value.length > MAX_LENGTH) return undefined;
  if (!isSafePage(value)) return undefined;
  const location = normalise(value);
  // Normalising can make an unsafe string out of a safe one (`/.//evil` -> `//evil`): the result is
  // checked again, and must be stable, since a browser resolves it once more against our origin.
  if (location === undefined || !isSafePage(location) || normalise(location) !== location) return undefined;
  return location;
}
