// Names of the prom-sidecar: service, paths, environment variables (primary and aad-auth-proxy
// aliases) and defaults.
import type { WarmUpRequest } from '@auth-sidecars/proxy-kit';

export const SERVICE = 'prom-sidecar';

export const HEALTH_PATH = '/health';
/** aad-auth-proxy's readiness probe path; answers as /readyz does. */
export const AAD_READY_PATH = '/ready';
export const PROBE_PATHS = ['/health', '/ready', '/livez', '/readyz', '/metrics'];

/**
 * What the sidecar sends through its own request path before it reports ready (proxy-kit
 * warmup.ts; to a loopback stand-in, never upstream): an instant query, as GET and as a form POST.
 */
export const WARM_UP_REQUESTS: readonly WarmUpRequest[] = Object.freeze<WarmUpRequest[]>([
  { method: 'GET', path: '/api/v1/query?query=up' },
  {
    method: 'POST',
    path: '/api/v1/query',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: 'query=up',
  },
]);

/** A forwarded API path and the methods Prometheus' own router accepts on it. */
export interface ApiRoute {
  /** As written in the README and in the 404 message. */
  name: string;
  pattern: RegExp;
  methods: readonly string[];
}

const GET = Object.freeze(['GET']);
const GET_POST = Object.freeze(['GET', 'POST']);

/**
 * The Prometheus HTTP read API that is forwarded (what Grafana's Prometheus data source calls),
 * with the methods Prometheus registers for each path; nothing else is (no admin, write or
 * federate). Label names are restricted to Prometheus' legacy charset (UTF-8 names arrive escaped
 * in it), which also keeps `..` and encoded slashes out of the forwarded path.
 */
export const READ_API: readonly ApiRoute[] = Object.freeze([
  { name: '/api/v1/query', pattern: /^\/api\/v1\/query$/, methods: GET_POST },
  { name: '/api/v1/query_range', pattern: /^\/api\/v1\/query_range$/, methods: GET_POST },
  { name: '/api/v1/query_exemplars', pattern: /^\/api\/v1\/query_exemplars$/, methods: GET_POST },
  { name: '/api/v1/series', pattern: /^\/api\/v1\/series$/, methods: GET_POST },
  { name: '/api/v1/labels', pattern: /^\/api\/v1\/labels$/, methods: GET_POST },
  {
    name: '/api/v1/label/<name>/values',
    pattern: /^\/api\/v1\/label\/[A-Za-z_][A-Za-z0-9_]*\/values$/,
    methods: GET,
  },
  { name: '/api/v1/metadata', pattern: /^\/api\/v1\/metadata$/, methods: GET },
  { name: '/api/v1/rules', pattern: /^\/api\/v1\/rules$/, methods: GET },
  { name: '/api/v1/alerts', pattern: /^\/api\/v1\/alerts$/, methods: GET },
  { name: '/api/v1/status/buildinfo', pattern: /^\/api\/v1\/status\/buildinfo$/, methods: GET },
  { name: '/api/v1/format_query', pattern: /^\/api\/v1\/format_query$/, methods: GET_POST },
  { name: '/api/v1/parse_query', pattern: /^\/api\/v1\/parse_query$/, methods: GET_POST },
]);

/** Forwarded only with ALLOW_STATUS_CONFIG: the server's configuration says more than a reader needs. */
export const STATUS_CONFIG_ROUTE: ApiRoute = Object.freeze({
  name: '/api/v1/status/config',
  pattern: /^\/api\/v1\/status\/config$/,
  methods: GET,
});

/** Methods forwarded under an ALLOW_PATH_PREFIXES prefix (CONNECT and TRACE never are). */
export const PREFIX_METHODS: readonly string[] = Object.freeze([
  'GET',
  'HEAD',
  'POST',
  'PUT',
  'PATCH',
  'DELETE',
  'OPTIONS',
]);

/** Microsoft aad-auth-proxy variable -> our primary variable (the primary wins when both are set). */
export const AAD_AUTH_PROXY_ALIASES: Readonly<Record<string, string>> = Object.freeze({
  TARGET_HOST: 'PROMETHEUS_QUERY_ENDPOINT',
  AUDIENCE: 'AZURE_SCOPE',
  LISTENING_PORT: 'PORT',
  AAD_CLIENT_ID: 'AZURE_CLIENT_ID',
  AAD_TENANT_ID: 'AZURE_TENANT_ID',
  AAD_CLIENT_CERTIFICATE_PATH: 'AZURE_CLIENT_CERTIFICATE_PATH',
  IDENTITY_TYPE: 'AZURE_CREDENTIAL_KIND',
});

/**
 * aad-auth-proxy variables (and families) this app reads. Any other `AAD_*` or `OTEL_*` variable,
 * and the aad-auth-proxy variables below that it does not implement, are named in a startup warning.
 */
export const KNOWN_AAD_VARIABLES: ReadonlySet<string> = new Set([
  'AAD_CLIENT_ID',
  'AAD_TENANT_ID',
  'AAD_CLIENT_CERTIFICATE_PATH',
  'AAD_TOKEN_REFRESH_INTERVAL_IN_PERCENTAGE',
]);
export const REPORTED_VARIABLE_PREFIXES: readonly string[] = Object.freeze(['AAD_', 'OTEL_']);
/** aad-auth-proxy variables outside those prefixes that it honours and this app does not. */
export const UNSUPPORTED_AAD_AUTH_PROXY_VARIABLES: readonly string[] = Object.freeze([
  'OVERRIDE_REQUEST_HEADERS',
]);

/** aad-auth-proxy's IDENTITY_TYPE values -> auth-core credential kinds. */
export const IDENTITY_TYPES: Readonly<Record<string, string>> = Object.freeze({
  systemassigned: 'managed-identity',
  userassigned: 'managed-identity',
  aadapplication: 'certificate',
});

export const DEFAULT_SCOPE = 'https://prometheus.monitor.azure.com/.default';
export const DEFAULT_PORT = 8080;
export const DEFAULT_TIMEOUTS = Object.freeze({
  connectMs: 5_000,
  firstByteMs: 120_000,
  idleMs: 120_000,
  shutdownMs: 10_000,
});
