// Environment -> frozen config. Primary names: the standard AZURE_* credential variables,
// PROMETHEUS_QUERY_ENDPOINT, AZURE_SCOPE, HOST, PORT. Microsoft aad-auth-proxy's names are accepted
// as aliases so its users can switch images without touching their manifests; its variables this
// app does not implement are named in a startup warning rather than silently ignored.
import {
  credentialConfigFromEnv,
  credentialEnvSchema,
  type CredentialConfig,
} from '@auth-sidecars/auth-core';
import { proxyEnvShape, proxySettings, type ProxySettings } from '@auth-sidecars/proxy-kit';
import {
  booleanFlag,
  hostSchema,
  loadConfig,
  loadConfigParts,
  logLevelSchema,
  portSchema,
  type Env,
} from '@auth-sidecars/service-kit';
import { z } from 'zod';
import {
  AAD_AUTH_PROXY_ALIASES,
  DEFAULT_PORT,
  DEFAULT_SCOPE,
  DEFAULT_TIMEOUTS,
  IDENTITY_TYPES,
  KNOWN_AAD_VARIABLES,
  REPORTED_VARIABLE_PREFIXES,
  UNSUPPORTED_AAD_AUTH_PROXY_VARIABLES,
} from './constants.js';

/**
 * An allowed path prefix: absolute, without query, fragment, percent-encoding, backslash or
 * `.`/`..` segments, so that what is checked is what the upstream serves.
 */
const PATH_PREFIX = /^\/(?:[\w.~!$&'()*+,;=:@-]+\/)*[\w.~!$&'()*+,;=:@-]*$/;
const pathPrefix = z
  .string()
  .regex(PATH_PREFIX, 'expected an absolute path such as /api/v1/write (no query, %, \\ or dot segments)')
  .refine((p) => !/(?:^|\/)\.{1,2}(?:\/|$)/.test(p), 'dot segments are not allowed');

/** Comma-separated, blanks ignored. */
const pathPrefixList = z
  .string()
  .transform((v) =>
    v
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== ''),
  )
  .pipe(z.array(pathPrefix))
  .default([]);

export const envSchema = z.object({
  PROMETHEUS_QUERY_ENDPOINT: z.url({ protocol: /^https?$/ }),
  AZURE_SCOPE: z.string().min(1).default(DEFAULT_SCOPE),
  HOST: hostSchema,
  PORT: portSchema(DEFAULT_PORT),
  LOG_LEVEL: logLevelSchema,
  ALLOW_STATUS_CONFIG: booleanFlag(false),
  ALLOW_PATH_PREFIXES: pathPrefixList,
  /** aad-auth-proxy: refresh when this percentage of the token's remaining lifetime is left (1-99). */
  AAD_TOKEN_REFRESH_INTERVAL_IN_PERCENTAGE: z.coerce
    .number({ error: 'expected a whole number from 1 to 99' })
    .int({ error: 'expected a whole number from 1 to 99' })
    .min(1, { error: 'expected a whole number from 1 to 99' })
    .max(99, { error: 'expected a whole number from 1 to 99' })
    .optional(),
  ...proxyEnvShape(DEFAULT_TIMEOUTS),
});

export interface PromSidecarConfig extends ProxySettings {
  queryEndpoint: string;
  scope: string;
  host: string;
  port: number;
  logLevel: string;
  credential: CredentialConfig;
  /** Forward GET /api/v1/status/config too. */
  allowStatusConfig: boolean;
  /** Path prefixes forwarded with any method besides the read API (remote write, ...). */
  allowPathPrefixes: readonly string[];
  /** Refresh after this fraction of the token lifetime (from AAD_TOKEN_REFRESH_INTERVAL_IN_PERCENTAGE). */
  refreshFraction: number | undefined;
  /** Logged once at startup (unused aad-auth-proxy and OpenTelemetry variables). */
  warnings: readonly string[];
}

const isSet = (v: string | undefined): v is string => v !== undefined && v.trim() !== '';

/**
 * Fills primary variables from aad-auth-proxy aliases (never overriding a primary that is set) and
 * translates their value conventions: TARGET_HOST may lack a scheme, AUDIENCE may be a bare resource,
 * IDENTITY_TYPE names identities the aad-auth-proxy way.
 */
export function applyAliases(env: Env): { env: Env; issues: string[] } {
  const out: Env = { ...env };
  const issues: string[] = [];
  for (const [alias, primary] of Object.entries(AAD_AUTH_PROXY_ALIASES)) {
    const value = env[alias];
    if (!isSet(value) || isSet(env[primary])) continue;
    switch (alias) {
      case 'TARGET_HOST':
        out[primary] = /^[a-z][a-z0-9+.-]*:\/\//i.test(value) ? value : `https://${value}`;
        break;
      case 'AUDIENCE':
        out[primary] = value.endsWith('/.default') ? value : `${value.replace(/\/+$/, '')}/.default`;
        break;
      case 'IDENTITY_TYPE': {
        const kind = IDENTITY_TYPES[value.toLowerCase()];
        if (kind === undefined) {
          issues.push(
            `IDENTITY_TYPE: expected systemAssigned, userAssigned or aadApplication, got "${value}"`,
          );
          break;
        }
        out[primary] = kind;
        break;
      }
      default:
        out[primary] = value;
    }
  }
  // A system-assigned identity has no client id: aad-auth-proxy ignores AAD_CLIENT_ID then.
  if (env.IDENTITY_TYPE?.toLowerCase() === 'systemassigned' && !isSet(env.AZURE_CLIENT_ID))
    delete out.AZURE_CLIENT_ID;
  return { env: out, issues };
}

/**
 * Names set `AAD_*`/`OTEL_*` variables (and aad-auth-proxy variables) this app does not read, so a
 * typo or an expectation of OpenTelemetry export does not go unnoticed. Empty ones are ignored.
 */
export function unusedVariableWarnings(env: Env): string[] {
  const unused = Object.keys(env)
    .filter((name) => isSet(env[name]))
    .filter(
      (name) =>
        (REPORTED_VARIABLE_PREFIXES.some((p) => name.startsWith(p)) && !KNOWN_AAD_VARIABLES.has(name)) ||
        UNSUPPORTED_AAD_AUTH_PROXY_VARIABLES.includes(name),
    )
    .sort();
  if (unused.length === 0) return [];
  const hints: string[] = [];
  if (unused.some((n) => n.startsWith('OTEL_')))
    hints.push('OpenTelemetry export is not implemented: scrape /metrics instead');
  if (unused.some((n) => n.startsWith('AAD_')))
    hints.push(`the AAD_* variables read are ${[...KNOWN_AAD_VARIABLES].join(', ')}`);
  if (unused.some((n) => UNSUPPORTED_AAD_AUTH_PROXY_VARIABLES.includes(n)))
    hints.push('extra request headers are not implemented');
  return [
    `ignoring environment variables prom-sidecar does not use: ${unused.join(', ')} (${hints.join('; ')})`,
  ];
}

/** Every problem (app, alias and credential variables) is reported in one ConfigError. */
export function loadPromSidecarConfig(rawEnv: Env): Readonly<PromSidecarConfig> {
  const { env, issues } = applyAliases(rawEnv);
  const { parsed, credential } = loadConfigParts(
    {
      parsed: () => loadConfig(envSchema, env),
      credential: () => credentialConfigFromEnv(loadConfig(credentialEnvSchema, env)),
    },
    issues,
  );
  return Object.freeze({
    queryEndpoint: parsed.PROMETHEUS_QUERY_ENDPOINT,
    scope: parsed.AZURE_SCOPE,
    host: parsed.HOST,
    port: parsed.PORT,
    logLevel: parsed.LOG_LEVEL,
    credential,
    allowStatusConfig: parsed.ALLOW_STATUS_CONFIG,
    allowPathPrefixes: parsed.ALLOW_PATH_PREFIXES,
    // aad-auth-proxy refreshes when P% of the remaining lifetime is left; auth-core counts the part used.
    refreshFraction:
      parsed.AAD_TOKEN_REFRESH_INTERVAL_IN_PERCENTAGE === undefined
        ? undefined
        : 1 - parsed.AAD_TOKEN_REFRESH_INTERVAL_IN_PERCENTAGE / 100,
    warnings: Object.freeze(unusedVariableWarnings(rawEnv)),
    ...proxySettings(parsed),
  });
}
