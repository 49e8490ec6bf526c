// Environment fragment shared by the token-injecting proxies: upstream timeouts, pool size and the
// startup policy. Spread `proxyEnvShape(...)` into an app schema; `forwarderTimeouts` maps it.
import { booleanFlag, durationMs } from '@auth-sidecars/service-kit';
import { z } from 'zod';
import { DEFAULT_MAX_SOCKETS } from './constants.js';
import type { ForwarderTimeouts } from './forwarder.js';

export const PROXY_ENV = Object.freeze({
  connectTimeout: 'UPSTREAM_CONNECT_TIMEOUT',
  responseTimeout: 'UPSTREAM_RESPONSE_TIMEOUT',
  idleTimeout: 'UPSTREAM_IDLE_TIMEOUT',
  maxConnections: 'UPSTREAM_MAX_CONNECTIONS',
  startWithoutToken: 'START_WITHOUT_TOKEN',
  shutdownTimeout: 'SHUTDOWN_TIMEOUT',
});

export interface ProxyEnvDefaults {
  connectMs: number;
  firstByteMs: number;
  idleMs: number;
  shutdownMs: number;
}

export function proxyEnvShape(defaults: ProxyEnvDefaults) {
  return {
    UPSTREAM_CONNECT_TIMEOUT: durationMs.default(defaults.connectMs),
    UPSTREAM_RESPONSE_TIMEOUT: durationMs.default(defaults.firstByteMs),
    UPSTREAM_IDLE_TIMEOUT: durationMs.default(defaults.idleMs),
    UPSTREAM_MAX_CONNECTIONS: z.coerce.number().int().positive().default(DEFAULT_MAX_SOCKETS),
    /** Start unready and keep retrying instead of exiting when the first token cannot be had. */
    START_WITHOUT_TOKEN: booleanFlag(false),
    SHUTDOWN_TIMEOUT: durationMs.default(defaults.shutdownMs),
  };
}

export interface ProxyEnv {
  UPSTREAM_CONNECT_TIMEOUT: number;
  UPSTREAM_RESPONSE_TIMEOUT: number;
  UPSTREAM_IDLE_TIMEOUT: number;
  UPSTREAM_MAX_CONNECTIONS: number;
  START_WITHOUT_TOKEN: boolean;
  SHUTDOWN_TIMEOUT: number;
}

export interface ProxySettings {
  timeouts: ForwarderTimeouts;
  maxConnections: number;
  startWithoutToken: boolean;
  shutdownTimeoutMs: number;
}

export function proxySettings(env: ProxyEnv): ProxySettings {
  return {
    timeouts: {
      connectMs: env.UPSTREAM_CONNECT_TIMEOUT,
      firstByteMs: env.UPSTREAM_RESPONSE_TIMEOUT,
      idleMs: env.UPSTREAM_IDLE_TIMEOUT,
    },
    maxConnections: env.UPSTREAM_MAX_CONNECTIONS,
    startWithoutToken: env.START_WITHOUT_TOKEN,
    shutdownTimeoutMs: env.SHUTDOWN_TIMEOUT,
  };
}
