// Environment -> frozen, typed configuration for carta-forwardauth (names kept from the seed:
// TARGET_NAMESPACE, port 8000, response header carta-auth-token).
import {
  booleanFlag,
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
  DEFAULT_RESPONSE_HEADER,
  DEFAULT_SESSION_ID_LABELS,
  DEFAULT_USER_ID_LABELS,
} from './constants.js';

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const LABEL_KEY =
  /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

const labelKeyList = (defaults: string[]) =>
  z
    .string()
    .transform((v) =>
      v
        .split(',')
        .map((s) => s.trim())
        .filter((s) => s !== ''),
    )
    .pipe(z.array(z.string().regex(LABEL_KEY, 'not a valid label key')).min(1))
    .default(defaults);

export const configSchema = z
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
  .refine((c) => c.RESYNC_INTERVAL >= 1000, { message: 'must be at least 1s', path: ['RESYNC_INTERVAL'] });

export type Config = Readonly<z.output<typeof configSchema>>;

export function readConfig(env: Env): Config {
  return loadConfig(configSchema, env);
}
