// Redirect URI rules as Entra applies them: exact match, except that loopback http URIs match on
// any port; a post-logout redirect is allowed to the origin of a registered redirect URI.

function isLoopbackHttp(url: URL): boolean {
  return url.protocol === 'http:' && ['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname);
}

export function redirectMatches(registered: string, requested: string): boolean {
  if (registered === requested) return true;
  try {
    const a = new URL(registered);
    const b = new URL(requested);
    // Entra ignores the port of loopback http redirect URIs.
    return (
      isLoopbackHttp(a) &&
      isLoopbackHttp(b) &&
      a.hostname === b.hostname &&
      a.pathname === b.pathname &&
      a.search === b.search
    );
  } catch {
    return false;
  }
}

/** `target` is on the origin of the registered redirect URI (any port for loopback http). */
export function sameRedirectOrigin(registered: string, target: URL): boolean {
  try {
    const url = new URL(registered);
    return (
      url.origin === target.origin ||
      (isLoopbackHttp(url) && isLoopbackHttp(target) && url.hostname === target.hostname)
    );
  } catch {
    return false;
  }
}
