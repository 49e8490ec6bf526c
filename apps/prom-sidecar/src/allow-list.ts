// What prom-sidecar forwards, decided in one place: the Prometheus read API, /api/v1/status/config
// when ALLOW_STATUS_CONFIG is set, and the ALLOW_PATH_PREFIXES prefixes. The fast path (forward or
// not) and the express app (404 or 405 for the rest) both ask this table, so they cannot drift apart.
import { PREFIX_METHODS, PROBE_PATHS, READ_API, STATUS_CONFIG_ROUTE, type ApiRoute } from './constants.js';

export interface AllowListOptions {
  allowStatusConfig: boolean;
  allowPathPrefixes: readonly string[];
}

export interface AllowedRoute {
  name: string;
  methods: readonly string[];
}

export interface AllowList {
  /** The route `path` falls under, or undefined when nothing forwards it. */
  route(path: string): AllowedRoute | undefined;
  /** The path is on the list and the method is allowed there: forward it. */
  forwards(method: string, path: string): boolean;
  /** The forwarded paths, for the 404 message. */
  readonly description: string;
}

const PROBES: ReadonlySet<string> = new Set(PROBE_PATHS);

/**
 * A `.` or `..` segment, literal or percent-encoded, or an encoded slash or backslash: a prefix
 * match must not be escaped by an upstream that normalises the path after our check.
 */
const PATH_ESCAPE = /(?:^|\/)(?:\.|%2e){1,2}(?:\/|$)|%2f|%5c|\\/i;

/** `/api/v1/write` allows itself and what is below it, not `/api/v1/writer`; `/x/` allows below only. */
function underPrefix(path: string, prefix: string): boolean {
  if (prefix.endsWith('/')) return path.startsWith(prefix);
  return path === prefix || path.startsWith(`${prefix}/`);
}

export function createAllowList(options: AllowListOptions): AllowList {
  const exact: ApiRoute[] = [...READ_API];
  if (options.allowStatusConfig) exact.push(STATUS_CONFIG_ROUTE);
  const prefixes = [...options.allowPathPrefixes];

  const route = (path: string): AllowedRoute | undefined => {
    // The sidecar's own probes are never forwarded, whatever prefix is allowed.
    if (PROBES.has(path)) return undefined;
    for (const r of exact) if (r.pattern.test(path)) return r;
    if (prefixes.length === 0 || PATH_ESCAPE.test(path)) return undefined;
    const prefix = prefixes.find((p) => underPrefix(path, p));
    return prefix === undefined ? undefined : { name: `${prefix}*`, methods: PREFIX_METHODS };
  };

  return {
    route,
    forwards: (method, path) => route(path)?.methods.includes(method) ?? false,
    description: [...exact.map((r) => r.name), ...prefixes.map((p) => `${p}*`)].join(', '),
  };
}
