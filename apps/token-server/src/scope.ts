// Scope <-> resource conversion (Entra v2 scopes vs. the managed-identity `resource` parameter) and
// the syntax check every incoming scope passes before it reaches policy or the IdP.
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

/** Why `value` is not a usable single scope/resource, or undefined when it is. */
export function scopeProblem(value: unknown, name: string): string | undefined {
  if (value === undefined || value === '') return `${name} is required`;
  if (typeof value !== 'string') return `${name} must be given once`;
  if (value.length > MAX_SCOPE_LENGTH) return `${name} is too long`;
  if (!SCOPE_SYNTAX.test(value)) return `${name} must be a single scope without spaces`;
  if (scopeToResource(value) === '') return `${name} names no resource`;
  return undefined;
}
