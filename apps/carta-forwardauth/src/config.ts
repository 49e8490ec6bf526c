// Environment -> frozen, typed configuration for carta-forwardauth (names kept from the seed:
// TARGET_NAMESPACE, port 8000, response header carta-auth-token).
import {
  booleanFlag,
  csvList,
  durationMs,
  hostSchema,
  loadConfig,
  logLevelSchema,
  portSchema,
  type Env,
} from '@auth-sidecars/service-kit';
import { z } from 'zod';
import {
  DEFAULT_NAMESPACE,
  DEFAULT_PORT,
  DEFAULT_PROBE_PORT,
  DEFAULT_RESPONSE_HEADER,
  DEFAULT_SESSION_ID_LABELS,
  DEFAULT_USER_ID_LABELS,
} from './constants.js';

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const LABEL_KEY =
  /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

const SEGMENTS = /^(\/[A-Za-z0-9._~-]+)+$/;
const DOT_SEGMENT = /\/\.{1,2}(\/|$)/;
/** `/`, or a canonical absolute path without a trailing slash (an ingress prefix such as `/skaha`). */
const sessionPrefix = z.string().refine((p) => p === '/' || (SEGMENTS.test(p) && !DOT_SEGMENT.test(p)), {
  message: 'expected / or a path such as /skaha (no trailing slash, no dot segments)',
});
/** A canonical absolute path; a trailing slash means "everything below" (`/static/`). */
const assetPrefix = z
  .string()
  .refine((p) => p !== '/' && SEGMENTS.test(p.endsWith('/') ? p.slice(0, -1) : p) && !DOT_SEGMENT.test(p), {
    message: 'expected a path such as /static/ or /favicon.ico (not / itself, no dot segments)',
  });

/** A port, or `off` (probes and /metrics on PORT, only with AUTH_PATH_PREFIX). */
const probePort = z
  .string()
  .transform((v, ctx) => {
    if (v.trim().toLowerCase() === 'off') return 'off' as const;
    const port = Number(v);
    if (/^\s*\d+\s*$/.test(v) && port <= 65535) return port;
    ctx.addIssue({ code: 'custom', message: 'expected a port number (0-65535) or off' });
    return z.NEVER;
  })
  .default(DEFAULT_PROBE_PORT);

const labelKeyList = (defaults: string[]) =>
  csvList()
    .pipe(z.array(z.string().regex(LABEL_KEY, 'not a valid label key')).min(1))
    .default(defaults);

/** The environment as the seed names it; cross-field rules report the variable to fix. */
export const envSchema = z
  .object({
    TARGET_NAMESPACE: z
      .string()
      .regex(DNS1123_LABEL, 'not a valid namespace name')
      .default(DEFAULT_NAMESPACE),
    HOST: hostSchema,
    PORT: portSchema(DEFAULT_PORT),
    LOG_LEVEL: logLevelSchema,
    /** Read by @kubernetes/client-node's loadFromDefault; listed so it is validated and documented. */
    KUBECONFIG: z.string().optional(),
    SESSION_ID_LABELS: labelKeyList(DEFAULT_SESSION_ID_LABELS),
    USER_ID_LABELS: labelKeyList(DEFAULT_USER_ID_LABELS),
    LOOKUP_SERVICES: booleanFlag(true),
    EXTRA_LABEL_SELECTOR: z.string().max(1024).optional(),
    RESPONSE_HEADER: z
      .string()
      .regex(HEADER_NAME, 'not a valid header name')
      .transform((v) => v.toLowerCase())
      .default(DEFAULT_RESPONSE_HEADER),
    /** Probes and /metrics: never on the decision port, where a forwarded /livez would be a 200. */
    PROBE_PORT: probePort,
    /** Where `/session/carta/` may start: `/` (the root) and ingress prefixes such as `/skaha`. */
    SESSION_PATH_PREFIXES: csvList().pipe(z.array(sessionPrefix).min(1)).default(['/']),
    REFERER_FALLBACK: booleanFlag(false),
    REFERER_ASSET_PREFIXES: csvList().pipe(z.array(assetPrefix)).default([]),
    AUTH_PATH_PREFIX: z
      .string()
      .regex(/^\/[A-Za-z0-9._~-]+(\/[A-Za-z0-9._~-]+)*$/, 'expected a path such as /authz')
      .optional(),
    MAX_URI_LENGTH: z.coerce.number().int().min(64).max(65536).default(4096),
    RESYNC_INTERVAL: durationMs.default(300_000),
    LIST_TIMEOUT: durationMs.default(30_000),
    RELIST_BACKOFF_INITIAL: durationMs.default(500),
    RELIST_BACKOFF_MAX: durationMs.default(30_000),
    STALE_GRACE: durationMs.default(30_000),
    SHUTDOWN_TIMEOUT: durationMs.default(10_000),
  })
  .refine((c) => c.SESSION_ID_LABELS.length === c.USER_ID_LABELS.length, {
    message: 'SESSION_ID_LABELS and USER_ID_LABELS must list the same number of keys (paired by position)',
    path: ['USER_ID_LABELS'],
  })
  .refine((c) => c.RELIST_BACKOFF_INITIAL > 0 && c.RELIST_BACKOFF_INITIAL <= c.RELIST_BACKOFF_MAX, {
    message: 'must be > 0 and <= RELIST_BACKOFF_MAX',
    path: ['RELIST_BACKOFF_INITIAL'],
  })
  .refine((c) => c.RESYNC_INTERVAL >= 1000, { message: 'must be at least 1s', path: ['RESYNC_INTERVAL'] })
  .refine((c) => c.PROBE_PORT !== 'off' || c.AUTH_PATH_PREFIX !== undefined, {
    message:
      'off serves /livez, /readyz and /metrics on PORT, where an Envoy or nginx check of an original ' +
      'request for them would be answered 200 (allow): set AUTH_PATH_PREFIX too, or keep a probe port',
    path: ['PROBE_PORT'],
  })
  .refine((c) => c.PROBE_PORT === 'off' || c.PROBE_PORT === 0 || c.PROBE_PORT !== c.PORT, {
    message: 'must differ from PORT (or be off)',
    path: ['PROBE_PORT'],
  })
  .refine((c) => !c.REFERER_FALLBACK || c.REFERER_ASSET_PREFIXES.length > 0, {
    message:
      'REFERER_FALLBACK=true needs the asset paths that may use it (e.g. /static/,/favicon.ico): ' +
      'any client can write a Referer, so it never vouches for an arbitrary path',
    path: ['REFERER_ASSET_PREFIXES'],
  });

type ParsedEnv = z.output<typeof envSchema>;

/** The parsed configuration, camelCase; durations in ms. Variable names are in the README. */
export interface Config {
  targetNamespace: string;
  host: string;
  port: number;
  logLevel: ParsedEnv['LOG_LEVEL'];
  kubeconfig: string | undefined;
  /** Session id label keys, paired by position with `userIdLabels`. */
  sessionIdLabels: readonly string[];
  userIdLabels: readonly string[];
  lookupServices: boolean;
  extraLabelSelector: string | undefined;
  /** Lower-cased. */
  responseHeader: string;
  probePort: number | 'off';
  sessionPathPrefixes: readonly string[];
  refererFallback: boolean;
  refererAssetPrefixes: readonly string[];
  authPathPrefix: string | undefined;
  maxUriLength: number;
  resyncIntervalMs: number;
  listTimeoutMs: number;
  relistBackoffInitialMs: number;
  relistBackoffMaxMs: number;
  staleGraceMs: number;
  shutdownTimeoutMs: number;
}

export function readConfig(env: Env): Readonly<Config> {
  const e = loadConfig(envSchema, env);
  return Object.freeze({
    targetNamespace: e.TARGET_NAMESPACE,
    host: e.HOST,
    port: e.PORT,
    logLevel: e.LOG_LEVEL,
    kubeconfig: e.KUBECONFIG,
    sessionIdLabels: e.SESSION_ID_LABELS,
    userIdLabels: e.USER_ID_LABELS,
    lookupServices: e.LOOKUP_SERVICES,
    extraLabelSelector: e.EXTRA_LABEL_SELECTOR,
    responseHeader: e.RESPONSE_HEADER,
    probePort: e.PROBE_PORT,
    sessionPathPrefixes: e.SESSION_PATH_PREFIXES,
    refererFallback: e.REFERER_FALLBACK,
    refererAssetPrefixes: e.REFERER_ASSET_PREFIXES,
    authPathPrefix: e.AUTH_PATH_PREFIX,
    maxUriLength: e.MAX_URI_LENGTH,
    resyncIntervalMs: e.RESYNC_INTERVAL,
    listTimeoutMs: e.LIST_TIMEOUT,
    relistBackoffInitialMs: e.RELIST_BACKOFF_INITIAL,
    relistBackoffMaxMs: e.RELIST_BACKOFF_MAX,
    staleGraceMs: e.STALE_GRACE,
    shutdownTimeoutMs: e.SHUTDOWN_TIMEOUT,
  });
}
