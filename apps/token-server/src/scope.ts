// Scope <-> resource conversion (Entra v2 scopes vs. the managed-identity `resource` parameter), the
// syntax check every incoming scope passes, and the one canonical spelling of a scope that the
// allow-list, the provider cache and the IdP all see.
import { DEFAULT_SCOPE_SUFFIX, MAX_SCOPE_LENGTH } from './constants.js';

/** `https://vault.azure.net` -> `https://vault.azure.net/.default`; a scope stays as it is. */
export function resourceToScope(resource: string): string {
  return resource.endsWith(DEFAULT_SCOPE_SUFFIX) ? resource : `${resource}${DEFAULT_SCOPE_SUFFIX}`;
}

/** `https://vault.azure.net/.default` -> `https://vault.azure.net`, as the SDKs' mapScopesToResource does. */
export function scopeToResource(scope: string): string {
  return scope.endsWith(DEFAULT_SCOPE_SUFFIX) ? scope.slice(0, -DEFAULT_SCOPE_SUFFIX.length) : scope;
}

// One scope: printable ASCII without spaces (a space would smuggle a second scope into the IdP call).
const SCOPE_SYNTAX = /^[\x21-\x7e]+$/;

/** `scheme://authority/rest`: the authority is the host (and port) of the resource. */
const URI_FORM = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/([^/?#]*)(.*)$/s;

export interface ResourceParts {
  /** Lower case. */
  scheme: string;
  /** Lower case, without the scheme's default port. */
  authority: string;
  /** As given, without trailing slashes (may be empty). */
  path: string;
}

/** The parts of a canonical URI-form resource, or undefined for another form (an app id GUID). */
export function resourceParts(resource: string): ResourceParts | undefined {
  const match = URI_FORM.exec(resource);
  if (!match) return undefined;
  const scheme = match[1]!.toLowerCase();
  let authority = match[2]!.toLowerCase();
  if (scheme === 'https' && authority.endsWith(':443')) authority = authority.slice(0, -4);
  return { scheme, authority, path: match[3]!.replace(/\/+$/, '') };
}

/**
 * The one spelling of a resource: scheme and host in lower case (DNS names and URI schemes are
 * case-insensitive), no default port, no trailing slash; a resource that is not a URI (an app id
 * GUID) in lower case. The path keeps its case. `https://Vault.Azure.NET/`, `https://vault.azure.net`
 * and `https://vault.azure.net:443//` are one resource, `https://vault.azure.net`.
 */
export function canonicalResource(resource: string): string {
  const parts = resourceParts(resource);
  if (!parts) return resource.replace(/\/+$/, '').toLowerCase();
  return `${parts.scheme}://${parts.authority}${parts.path}`;
}

/**
 * The one spelling of a scope: scheme and host of its resource in lower case, no default port, then
 * `/.default`. A bare resource, its `/.default` scope and their case variants become the same
 * string, so they pass the allow-list alike and share one provider (variants cannot each start one).
 * A trailing slash on the resource is kept (one, however many were given): Entra puts it into the
 * token's audience, and v1 resources such as ARM (`https://management.azure.com//.default`, as azd
 * and the SDKs ask) expect it there. So a resource has at most two providers, with and without it.
 */
export function canonicalScope(scopeOrResource: string): string {
  const resource = scopeToResource(scopeOrResource);
  const slash = /\/$/.test(resource) ? '/' : '';
  return resourceToScope(`${canonicalResource(resource)}${slash}`);
}

/** Why `value` is not a usable single scope/resource, or undefined when it is. */
export function scopeProblem(value: unknown, name: string): string | undefined {
  if (value === undefined || value === '') return `${name} is required`;
  if (typeof value !== 'string') return `${name} must be given once`;
  if (value.length > MAX_SCOPE_LENGTH) return `${name} is too long`;
  if (!SCOPE_SYNTAX.test(value)) return `${name} must be a single scope without spaces`;
  const resource = canonicalResource(scopeToResource(value));
  if (resource === '') return `${name} names no resource`;
  const parts = resourceParts(resource);
  // `https://allowed.example@evil.example` reads as one host to a person and as another to a parser.
  if (parts && (parts.authority === '' || parts.authority.includes('@')))
    return `${name} must name a host without user information`;
  return undefined;
}
