// `returnTo` after sign-in: only a path on this broker. Everything that a browser could resolve to
// another origin (`//evil`, `/\evil`, `https://evil`, encoded or control-character variants) is refused.

const SAFE_PATH = /^\/(?![/\\])[A-Za-z0-9\-._~!$&'()*+,;=:@/%?#]*$/;

/** Returns the path to redirect to, or undefined when `value` is not a safe same-origin path. */
export function safeReturnTo(value: unknown): string | undefined {
  if (typeof value !== 'string' || value.length === 0 || value.length > 2048) return undefined;
  if (!SAFE_PATH.test(value)) return undefined; // also excludes backslashes, whitespace and control characters
  // Decode repeatedly: an encoded `//` or `\` must not survive into a later decode (by a proxy or the browser).
  let decoded = value;
  for (let i = 0; i < 3; i++) {
    let next: string;
    try {
      next = decodeURIComponent(decoded);
    } catch {
      return undefined;
    }
    if (next === decoded) break;
    decoded = next;
  }
  if (
    !decoded.startsWith('/') ||
    decoded.startsWith('//') ||
    /[\\\s\p{Cc}]/u.test(decoded) ||
    decoded.startsWith('/\\')
  )
    return undefined;
  // The WHATWG parser is the judge: resolved against a sentinel origin, it must stay there.
  const sentinel = 'https://return-to.invalid';
  let resolved: URL;
  try {
    resolved = new URL(value, sentinel);
  } catch {
    return undefined;
  }
  if (resolved.origin !== sentinel) return undefined;
  return resolved.pathname + resolved.search + resolved.hash;
}
