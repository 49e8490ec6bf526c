// Names used by carta-forwardauth: headers, paths, label keys, environment variables, metrics.

export const SERVICE = 'carta-forwardauth';

/** CARTA URL shapes: /session/carta/<id>/... (CARTA 5+), /session/carta/http/<id>/..., /session/carta/ws/<id>/... */
export const CARTA_PATH_PREFIX = '/session/carta/';
/** Path segments of the older URL shapes that sit before the id and are never ids themselves. */
export const LEGACY_SHAPE_SEGMENTS: ReadonlySet<string> = new Set(['http', 'ws']);
/** Skaha session ids: short lowercase alphanumerics (also a valid label value). */
export const SESSION_ID_PATTERN = /^[a-z0-9]{1,63}$/;
/** Kubernetes label value syntax; the user id goes into a response header, so nothing else passes. */
export const LABEL_VALUE_PATTERN = /^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;

export const HEADERS = {
  /** Traefik forwardAuth */
  forwardedUri: 'x-forwarded-uri',
  forwardedMethod: 'x-forwarded-method',
  forwardedHost: 'x-forwarded-host',
  forwardedFor: 'x-forwarded-for',
  /** nginx auth_request (`proxy_set_header X-Original-URI $request_uri;`) */
  originalUri: 'x-original-uri',
  referer: 'referer',
} as const;

export const DEFAULT_RESPONSE_HEADER = 'carta-auth-token';
export const DEFAULT_NAMESPACE = 'skaha-workload';
export const DEFAULT_PORT = 8000;
/** Probes and /metrics listen apart from the decisions (see PROBE_PORT). */
export const DEFAULT_PROBE_PORT = 8001;
/** New Skaha label keys first, then the legacy ones; paired by position. */
export const DEFAULT_SESSION_ID_LABELS = ['canfar.net/id', 'canfar-net-sessionID'];
export const DEFAULT_USER_ID_LABELS = ['canfar.net/username', 'canfar-net-userid'];

/** The probe port's paths (also on PORT when PROBE_PORT=off); on PORT every other path is a decision. */
export const PATHS = { livez: '/livez', readyz: '/readyz', metrics: '/metrics' } as const;
/** `route` label of the decisions in service-kit's HTTP latency metric. */
export const DECISION_ROUTE = 'decision';

export const METRICS = {
  decisions: 'carta_forwardauth_decisions_total',
  sessions: 'carta_forwardauth_cache_sessions',
  objects: 'carta_forwardauth_cache_objects',
  synced: 'carta_forwardauth_informer_synced',
  watchRestarts: 'carta_forwardauth_watch_restarts_total',
  watchConnects: 'carta_forwardauth_watch_connects_total',
  resyncs: 'carta_forwardauth_resyncs_total',
} as const;
